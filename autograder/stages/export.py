"""Stage *export*: the rows of a run written in every format.

``grades.csv`` (one row per question), ``results.json`` (Gradescope's format), the final scan
of OUT for hidden-test text, nbgrader's gradebook (``--gradebook``), and the conversions of
``python -m autograder export``. An nbgrader writer (``submitted/``, ``autograded/``,
``feedback/``) belongs here too.
"""

import csv
import io
import json
from collections import Counter
from pathlib import Path

from ..io import GraderError, atomic_write
from .feedback import REDACTED, row_text, scan_tree

COLUMNS = ["student", "assignment", "notebook", "question", "kind", "score", "max_score",
           "status", "restored", "note", "message"]
STATUSES = ["ok", "failed", "timeout", "memory", "disk", "crashed", "tampered", "invalid",
            "missing", "manual", "unanswered"]


def export(run):
    """Write grades.csv and results.json; in a named course, nbgrader's folders, gradebook
    and feedback (stages.course); scan everything a student may see; record --gradebook."""
    out = run.settings.out
    rows = [r for res in run.results for r in res["rows"]]
    rows.sort(key=lambda r: (r["student"], r["assignment"], r["notebook"]))
    write_csv(out / "grades.csv", rows)
    atomic_write(out / "results.json", json.dumps(gradescope(rows, run.warnings), indent=1,
                                                  ensure_ascii=False))
    from . import course

    course.write(run)
    leaks = {}
    for root in [out, *course.feedback_dirs(run)]:
        leaks.update(scan_tree(root, run.secrets))
    if leaks:
        for path in leaks:
            atomic_write(path, REDACTED + "\n")
        raise GraderError("hidden-test text reached OUT and was redacted from: "
                          + ", ".join(sorted(leaks)))
    if run.settings.gradebook and not run.settings.in_course:
        from .gradebook import record

        record(run.settings.gradebook, run.plans, rows)
    run.rows = rows


def write_csv(path, rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue())


def gradescope(rows, warnings=()):
    """The Gradescope autograder results format over every row."""
    tests = []
    for r in rows:
        tests.append({"name": f"{r['student']} / {r['assignment']} / {r['notebook']} / "
                              f"{r['question']}",
                      "score": None if r["score"] == "" else r["score"],
                      "max_score": r["max_score"], "visibility": "visible",
                      "output": row_text(r),
                      "extra_data": {k: r.get(k, "") for k in (
                          "student", "assignment", "notebook", "question", "status",
                          "restored")}})
    auto = [r for r in rows if r["score"] != ""]
    result = {"score": round(sum(float(r["score"]) for r in auto), 6), "tests": tests}
    result["extra_data"] = {"max_score": sum(float(r["max_score"]) for r in rows
                                             if _is_auto(r))}
    if warnings:
        result["extra_data"]["warnings"] = list(warnings)
    return result


def summary_table(rows):
    counts = Counter((r["assignment"], r["status"]) for r in rows)
    lines = ["assignment".ljust(24) + "".join(s.rjust(11) for s in STATUSES)]
    for a in sorted({r["assignment"] for r in rows}):
        lines.append(a.ljust(24) + "".join(str(counts[(a, s)]).rjust(11) for s in STATUSES))
    return "\n".join(lines)


# ----------------------------------------------------- python -m autograder export OUT ...

def read_rows(out):
    path = Path(out) / "grades.csv"
    if not path.is_file():
        raise GraderError(f"{path} does not exist: grade first")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["max_score"] = float(r["max_score"])
        r["score"] = "" if r["score"] == "" else float(r["score"])
    return rows


def convert(out, fmt, to=None, source="solutions"):
    """Convert OUT/grades.csv; returns a one-line description of what was written."""
    rows = read_rows(out)
    if fmt == "gradescope":
        return _per_student_gradescope(out, rows, to, source)
    if fmt == "csv":
        return _wide_csv(out, rows, to)
    if fmt == "nbgrader":
        if not to:
            raise GraderError("--to URL is needed for --format nbgrader")
        from .gradebook import record
        from .plan import load_plans

        record(to, load_plans(source, sorted({r["assignment"] for r in rows})), rows)
        return f"recorded {len(rows)} grades in {to}"
    raise GraderError(f"unknown format {fmt!r}")


def _is_auto(row):
    # grades.csv of runs before the kind column: a manual question is one without a score
    return (row.get("kind") or ("auto" if row["status"] != "manual" else "manual")) == "auto"


def _per_student_gradescope(out, rows, to, source="solutions"):
    """DEST/<assignment>/<student>/results.json: Gradescope takes one assignment at a time."""
    from ..gradescope import results
    from .plan import load_plans

    dest = Path(to or Path(out) / "gradescope")
    plans = {}  # which tests hold hidden lines (their visibility); unknown: after_published
    for a in sorted({r["assignment"] for r in rows}):
        try:
            plans.update(load_plans(source, [a]))
        except (FileNotFoundError, ValueError):
            pass
    written = results(rows, plans)
    for (student, assignment), data in sorted(written.items()):
        atomic_write(dest / assignment / student / "results.json",
                     json.dumps(data, indent=1, ensure_ascii=False))
    return (f"wrote {len(written)} Gradescope results.json files (one per student and "
            f"assignment) under {dest}")


def _wide_csv(out, rows, to):
    dest = Path(to or Path(out) / "grades_wide.csv")
    students = sorted({r["student"] for r in rows})
    columns = sorted({(r["assignment"], r["notebook"], r["question"]) for r in rows})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *("/".join(c) for c in columns), "total", "max_total"])
    for s in students:
        mine = {(r["assignment"], r["notebook"], r["question"]): r for r in rows
                if r["student"] == s}
        scores = [mine[c]["score"] if c in mine else "" for c in columns]
        auto = [r for r in mine.values() if r["score"] != ""]
        w.writerow([s, *scores, round(sum(r["score"] for r in auto), 6),
                    sum(r["max_score"] for r in mine.values() if _is_auto(r))])
    atomic_write(dest, buf.getvalue())
    return f"wrote {len(students)} students x {len(columns)} questions to {dest}"
