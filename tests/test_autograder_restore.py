"""Restore, don't zero: test and locked cells a student changed or deleted are put back from
the source, run, and scored on the student's code, as stock nbgrader does with
`OverwriteCells.add_missing_cells`; notebooks that lost nbgrader's metadata (or were saved
as nbformat 3) are matched to the release by order and content.

Graded in one run against stock `nbgrader autograde` (add_missing_cells on) on nbgrader's own
test notebooks (in the installed wheel) and on generated accidents; per question, the scores
are equal, except where stock nbgrader cannot grade the notebook at all (then ours equal what
the same notebook with its metadata intact earns here). What was put back is recorded.
"""

import copy
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import nbgrader
import pytest

pytestmark = [pytest.mark.xdist_group("autograder_restore"), pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[1]
FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def accidents(full):
    """{student: notebook} of accidents to a complete notebook (test.ipynb with solutions)."""
    out = {"intact": full}

    def changed(name, fn):
        nb = copy.deepcopy(full)
        fn(nb)
        out[name] = nb

    def cell(nb, grade_id):
        return next(c for c in nb.cells if gid(c) == grade_id)

    changed("deleted_test", lambda nb: nb.cells.remove(cell(nb, "correct_squares")))
    changed("emptied_test", lambda nb: setattr(cell(nb, "squares_invalid_input"), "source", ""))
    changed("edited_test", lambda nb: setattr(cell(nb, "correct_sum_of_squares"), "source",
                                              "print('no checks here')"))

    def to_markdown(nb):
        i = nb.cells.index(cell(nb, "sum_of_squares_uses_squares"))
        nb.cells[i] = nbformat.v4.new_markdown_cell(nb.cells[i].source,
                                                    metadata=nb.cells[i].metadata)
        nb.cells[i].pop("id", None)  # test.ipynb is nbformat 4.0: no cell ids
    changed("type_changed", to_markdown)
    changed("edited_locked", lambda nb: setattr(cell(nb, "jupyter"), "source", "changed"))
    changed("two_deleted", lambda nb: [nb.cells.remove(cell(nb, g)) for g in
                                       ("correct_squares", "squares_invalid_input")])
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("restore")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'restore'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
        "c.OverwriteCells.add_missing_cells = True\n")
    a1, a2 = course / "source" / "a1", course / "source" / "a2"
    a1.mkdir(parents=True)
    a2.mkdir(parents=True)
    shutil.copy(FILES / "submitted-unchanged.ipynb", a1 / "p1.ipynb")
    shutil.copy(FILES / "test.ipynb", a2 / "p1.ipynb")
    shutil.copy(FILES / "jupyter.png", a2 / "jupyter.png")
    subs = course / "submitted"
    for student in ("unchanged", "changed", "grade-cell-changed", "locked-cell-changed"):
        (subs / student / "a1").mkdir(parents=True)
        shutil.copy(FILES / f"submitted-{student}.ipynb", subs / student / "a1" / "p1.ipynb")
    full = nbformat.read(str(FILES / "test.ipynb"), as_version=4)
    notebooks = accidents(full) | {"no_metadata": nbformat.read(
        str(FILES / "test-no-metadata.ipynb"), as_version=4)}
    for student, nb in notebooks.items():
        (subs / student / "a2").mkdir(parents=True)
        nbformat.write(nb, str(subs / student / "a2" / "p1.ipynb"))
    (subs / "nbformat3" / "a2").mkdir(parents=True)
    (subs / "nbformat3" / "a2" / "p1.ipynb").write_text(
        nbformat.writes(nbformat.convert(full, 3), version=3))
    corpus.nbgrader(course, "generate_assignment", "a*", "--force")
    theirs = {}
    for a in ("a1", "a2"):
        subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "autograde", a,
                                "--force", "--log-level=ERROR"], cwd=course,
                       capture_output=True, text=True, timeout=900)  # exit 1: a notebook failed
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for student in [p.name for p in subs.iterdir()]:
            for a in ("a1", "a2"):
                try:
                    sub = gb.find_submission_notebook("p1", a, student)
                except MissingEntry:
                    continue
                theirs.update({(student, a, g.name): g.auto_score for g in sub.grades
                               if g.cell.cell_type == "code"
                               and (course / "autograded" / student / a / "p1.ipynb").exists()})
    out = course / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out",
                          str(out), "--source", str(course / "source"), "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        ours = {(r["student"], r["assignment"], r["question"]): r for r in csv.DictReader(f)}
    return ours, theirs


@pytest.mark.slow
def test_scores_equal_stock_nbgrader_with_add_missing_cells(graded):
    ours, theirs = graded
    auto = {k: r for k, r in ours.items() if r["status"] != "manual"}
    compared = [k for k in auto if k in theirs]
    assert len(compared) >= 30
    assert {k: float(auto[k]["score"]) for k in compared} == {k: theirs[k] for k in compared}
    assert not [r for r in ours.values() if r["status"] == "tampered"]


@pytest.mark.slow
def test_what_was_put_back_is_recorded(graded):
    ours, _ = graded
    expect = {("deleted_test", "correct_squares"): "deleted",
              ("emptied_test", "squares_invalid_input"): "emptied",
              ("edited_test", "correct_sum_of_squares"): "edited",
              ("type_changed", "sum_of_squares_uses_squares"): "type changed",
              ("two_deleted", "correct_squares"): "deleted",
              ("two_deleted", "squares_invalid_input"): "deleted",
              ("grade-cell-changed", "bar"): "edited"}
    for (student, _, q), row in ours.items():
        assert row["restored"] == expect.get((student, q), ""), (student, q, row)
    assert "jupyter (edited)" in ours[("edited_locked", "a2", "correct_squares")]["note"]
    assert "ro1 (edited)" in ours[("locked-cell-changed", "a1", "foo")]["note"]


@pytest.mark.slow
def test_notebooks_without_metadata_earn_what_intact_ones_earn(graded):
    ours, theirs = graded
    intact = {q: r["score"] for (s, a, q), r in ours.items() if s == "intact"}
    assert sum(float(v) for v in intact.values() if v) == 3.0  # the complete solution
    for student in ("no_metadata", "nbformat3"):
        mine = {q: r["score"] for (s, a, q), r in ours.items() if s == student}
        assert mine == intact, student
    # Stock nbgrader cannot place the tests of a notebook without metadata.
    assert not [k for k in theirs if k[0] == "no_metadata"]
    note = ours[("no_metadata", "a2", "correct_squares")]["note"]
    assert "matched to the release by order and content" in note
