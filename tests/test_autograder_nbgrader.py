"""Agreement with stock `nbgrader autograde`: on the same submissions of a small nbgrader
course (two notebooks, a data file, fractional points, partial credit, a test that checks
that one function calls another), the per-question automatic scores are equal."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import pytest

pytestmark = [pytest.mark.xdist_group("autograder_nbgrader"), pytest.mark.sandbox]


ROOT = Path(__file__).resolve().parents[1]

PARTIAL = ("def square(x):\n    return x * x\n\n\n"
           "def squares(n):\n"
           "    return [square(i) for i in range(1, n + 1)] if n <= 5 else [0] * n")


@pytest.mark.slow
def test_same_scores_as_nbgrader_autograde(tmp_path):
    course = tmp_path / "course"
    source, release = corpus.toy_course(course)
    kinds = {"alice": "full", "bob": "blank", "carol": "wrong", "dave": "numpy", "erin": "full"}
    submitted = course / "submitted"
    for student, kind in kinds.items():
        corpus.write_corpus(submitted / "_tmp", {"ps1": (source / "ps1", release / "ps1")},
                            [kind])
        (submitted / "_tmp" / corpus.STUDENTS[kind]).rename(submitted / student)
    (submitted / "_tmp").rmdir()
    # erin: partial credit (squares right up to n = 5 only).
    nb_path = submitted / "erin" / "ps1" / "part1.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "squares":
            cell.source = PARTIAL
    nbformat.write(nb, str(nb_path))

    corpus.nbgrader(course, "autograde", "ps1", "--force")
    from nbgrader.api import Gradebook

    theirs = {}
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for student in kinds:
            for notebook in ("part1", "part2"):
                sub = gb.find_submission_notebook(notebook, "ps1", student)
                for grade in sub.grades:
                    if grade.auto_score is not None and grade.cell.cell_type == "code":
                        theirs[(student, notebook, grade.name)] = grade.auto_score

    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submitted), "--out",
                          str(out), "--source", str(source), "--timeout", "20", "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        ours = {(r["student"], r["notebook"], r["question"]): float(r["score"])
                for r in csv.DictReader(f) if r["kind"] == "auto"}
    assert ours == pytest.approx(theirs)
    assert ours[("erin", "part1", "test_partial")] == 1.0  # partial credit, as nbgrader
    assert ours[("alice", "part1", "test_calls_square")] == 0.5
    assert sum(v for k, v in ours.items() if k[0] == "alice") == 6.25


def _user_guide():
    import nbgrader

    return Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide"


@pytest.mark.slow
def test_nbgrader_example_course_as_stock_nbgrader(tmp_path):
    """nbgrader's own example course (its user guide's ps1, with bitdiddle's and hacker's
    submissions), graded without a plugin, against stock `nbgrader autograde` in this run."""
    guide = _user_guide()
    course = tmp_path / "course"
    shutil.copytree(guide / "source" / "ps1", course / "source" / "ps1")
    for student in ("bitdiddle", "hacker"):
        shutil.copytree(guide / "submitted" / student, course / "submitted" / student)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'example'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n")
    corpus.nbgrader(course, "generate_assignment", "ps1", "--force")
    corpus.nbgrader(course, "autograde", "ps1", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        theirs = {(s, nb, g.name): g.auto_score for s in ("bitdiddle", "hacker")
                  for nb in ("problem1", "problem2")
                  for g in gb.find_submission_notebook(nb, "ps1", s).grades}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(course / "submitted"),
                          "--out", str(out), "--source", str(course / "source"), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ours = {(r["student"], r["notebook"], r["question"]): r for r in rows}
    assert set(ours) == set(theirs)
    # Every score nbgrader gives automatically, the same here: the tests, and the answers
    # left unchanged (0 at once); the rest is for a person, as in nbgrader.
    auto = {k: float(r["score"]) for k, r in ours.items() if r["status"] != "manual"}
    assert auto == {k: v for k, v in theirs.items() if v is not None}
    assert {k for k, r in ours.items() if r["status"] == "manual"} == {
        k for k, v in theirs.items() if v is None}
    assert sum(auto.values()) == 4.5
    # bitdiddle emptied the test cell squares_invalid_input: put back from the source and
    # run, as stock nbgrader does, and his squares passes it; the row says so.
    known = ("bitdiddle", "problem1", "squares_invalid_input")
    assert (auto[known], ours[known]["restored"]) == (1.0, "emptied")
    assert ours[("bitdiddle", "problem1", "sum_of_squares_application")]["status"] == (
        "unanswered")
