"""`python -m autograder export OUT --format gradescope|csv|nbgrader [--to DEST]`."""

import csv
import io
import json
from pathlib import Path

from .runner import GraderError, atomic_write, gradescope


def _rows(out):
    path = Path(out) / "grades.csv"
    if not path.is_file():
        raise GraderError(f"{path} does not exist: grade first")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["max_score"] = float(r["max_score"])
        r["score"] = "" if r["score"] == "" else float(r["score"])
    return rows


def export(out, fmt, to=None, source="solutions"):
    """Convert OUT/grades.csv; returns a one-line description of what was written."""
    rows = _rows(out)
    students = sorted({r["student"] for r in rows})
    if fmt == "gradescope":
        dest = Path(to or Path(out) / "gradescope")
        for s in students:
            mine = [r for r in rows if r["student"] == s]
            atomic_write(dest / s / "results.json",
                         json.dumps(gradescope(mine), indent=1, ensure_ascii=False))
        return f"wrote {len(students)} Gradescope results.json files under {dest}"
    if fmt == "csv":
        dest = Path(to or Path(out) / "grades_wide.csv")
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
                        sum(r["max_score"] for r in mine.values() if r["status"] != "manual")])
        atomic_write(dest, buf.getvalue())
        return f"wrote {len(students)} students x {len(columns)} questions to {dest}"
    if fmt == "nbgrader":
        if not to:
            raise GraderError("--to URL is needed for --format nbgrader")
        from .gradebook import record
        from .plan import load_plans

        assignments = sorted({r["assignment"] for r in rows})
        record(to, load_plans(source, assignments), rows)
        return f"recorded {len(rows)} grades in {to}"
    raise GraderError(f"unknown format {fmt!r}")
