"""Real learning-management-system downloads graded end to end (issue 14, part 3), in one
run: a Gradescope export (with a group submission), a Canvas download (two students of the
same name), a Moodle download and nbgrader zip_collect names, one download per assignment,
with a roster. Every student is graded under their id; then ``--resume`` after a student
replaced a notebook re-grades that one submission only."""

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import pytest
from autograder_corpus import lms

pytestmark = [pytest.mark.xdist_group("autograder_lms"), pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("gs", "canvas", "moodle", "zc")


def grade(subs, out, course, *extra):
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
           "--source", str(course / "source"), "--course", str(course), "--timeout", "10",
           "--memory", "1024", "--quiet", "--workers", "2", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def rows_of(out):
    with open(Path(out) / "grades.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {}
    for r in rows:
        by.setdefault((r["student"], r["assignment"]), []).append(r)
    return by


def total(rows):
    return sum(float(r["score"] or 0) for r in rows)


@pytest.fixture(scope="module")
def lms_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("lms")
    src = corpus.write_threats_source(course / "threats")
    release = corpus.release_folder(src, course / "release")
    for a in ASSIGNMENTS:
        shutil.copytree(src, course / "source" / a)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.FileNameCollectorPlugin.named_regexp = {lms.ZIPCOLLECT_REGEXP!r}\n")
    source_nb = nbformat.read(str(src / "t1.ipynb"), as_version=4)
    blank = nbformat.read(str(release / "t1.ipynb"), as_version=4)
    full = corpus.fill(blank, source_nb)
    now = time.time()
    subs = course / "class"
    lms.gradescope_export(subs / "gs", [
        ([("Ann Lee", "1001", "ann@uni.edu"), ("Bo Chen", "1002", "bo@uni.edu")],
         "2024-03-01 09:58:05.746365000 Z", {"t1.ipynb": full}),
        ([("Cy Dee", "1003", "cy@uni.edu")], "2024-03-02 23:10:00.000000000 Z",
         {"t1.ipynb": (full, now - 3600), "T1 (1).ipynb": (blank, now - 60)})])
    lms.canvas_zip(subs / "canvas.zip", [("smithjane", 1001, False, 501, "t1.ipynb", full),
                                         ("smithjane", 1004, True, 502, "t1.ipynb", blank)])
    lms.moodle_zip(subs / "moodle.zip", [("Ann Lee", 7001, {"T1.ipynb": full})])
    lms.zipcollect_folder(subs / "zc", "zc", [
        ("hacker", "2016-01-30-20-30-10", "t1", full),
        ("hacker", "2016-01-31-08-00-00", "t1", blank),
        ("bitdiddle", "2016-01-30-15-30-10", "t1", full)])
    (subs / "zc" / "zc" / "archive").rename(subs / "zc" / "archive")
    (subs / "zc" / "zc").rmdir()
    roster = course / "roster.csv"
    roster.write_text("id,name,email\n1001,Ann Lee,ann@uni.edu\n1002,Bo Chen,bo@uni.edu\n"
                      "1003,Cy Dee,cy@uni.edu\n1004,Jane Smith,\n1005,Al Absent,\n"
                      "7001,Ann Lee (Moodle),\nhacker,Alyssa Hacker,\nbitdiddle,Ben Bitdiddle,\n")
    return course, subs, roster, full


@pytest.mark.slow
def test_lms_downloads_graded_by_id_then_resume_regrades_the_changed(lms_class):
    course, subs, roster, full = lms_class
    out = course / "out"
    run = grade(subs, out, course, "--roster", str(roster))
    assert run.returncode == 0, run.stderr
    rows = rows_of(out)
    students = {"1001", "1002", "1003", "1004", "1005", "7001", "hacker", "bitdiddle"}
    assert {s for s, _ in rows} == students
    assert {a for _, a in rows} == set(ASSIGNMENTS)
    graded = {("1001", "gs"): 4, ("1002", "gs"): 4, ("1003", "gs"): 0,
              ("1001", "canvas"): 4, ("1004", "canvas"): 0, ("7001", "moodle"): 4,
              ("hacker", "zc"): 0, ("bitdiddle", "zc"): 4}
    for key, points in graded.items():
        assert total(rows[key]) == points, (key, rows[key])
        assert {r["status"] for r in rows[key]} == ({"ok"} if points else {"failed"}), key
    for (s, a), rs in rows.items():
        if (s, a) not in graded:
            assert {r["status"] for r in rs} == {"missing"}, (s, a, rs)
    assert ("T1 (1).ipynb graded as t1.ipynb, the newest of T1 (1).ipynb, t1.ipynb"
            in rows[("1003", "gs")][0]["note"])
    assert "the newest of" in rows[("hacker", "zc")][0]["note"]
    assert rows[("7001", "moodle")][0]["note"] == "T1.ipynb graded as t1.ipynb"
    assert (out / "feedback" / "1004" / "canvas" / "t1.html").is_file()

    # Cy hands in the right notebook; --resume grades it again and keeps every other result.
    state = out / ".autograder" / "results"
    before = {p.name: p.stat().st_mtime_ns for p in state.glob("*.json")}
    gs = next((subs / "gs").glob("assignment_*_export"))
    nbformat.write(full, str(gs / "submission_1002" / "T1 (1).ipynb"))
    again = grade(subs, out, course, "--roster", str(roster), "--resume")
    assert again.returncode == 0, again.stderr
    after = rows_of(out)
    assert total(after[("1003", "gs")]) == 4
    assert {k: v for k, v in after.items() if k != ("1003", "gs")} == {
        k: v for k, v in rows.items() if k != ("1003", "gs")}
    changed = [n for n, t in before.items() if (state / n).stat().st_mtime_ns != t]
    assert len(changed) == 1
    assert json.loads((state / changed[0]).read_text())["student"] == "1003"
