"""The round trip with stock nbgrader: release -> submissions -> `nbgrader autograde`.

One course in a temporary folder with three students who each submit every assignment:
``complete`` (the solution cells of solutions/ pasted into the release) gets full marks,
``blank`` (the release untouched) gets zero on every auto-graded question, and ``slightly_wrong``
(complete, but one function per assignment returns a first output off by 0.1%) loses exactly
that function's points. ``slightly_wrong`` also tries to cheat, without effect: it rebinds
`check`, makes `np.allclose` and `np.testing.assert_allclose` always pass, and empties the
hidden test cell of its wrong function (nbgrader restores locked cells from the source). All
three are graded by a single `nbgrader autograde` run.
"""

import shutil
import subprocess
import sys

import nbformat
import pytest
from _exercises_util import (
    SOLUTIONS,
    graded_function_names,
    make_release,
    nbgrader_meta,
    read,
    solution_notebooks,
    venv_env,
)

STUDENTS = ("complete", "blank", "slightly_wrong")

# The function spoiled for `slightly_wrong`: one that no other graded function of its notebook
# calls, so exactly one hidden test cell should lose its points.
SPOILED = {
    "01_sequential_models": "markov_sample",
    "02_rnn": "rnn_backward",
    "03_char_lm": "sample_next",
    "04_bptt": "gradient_norm_by_distance",
    "05_lstm": "lstm_backward",
    "06_peephole": "peephole_lstm_backward",
    "07_gru": "gru_backward",
    "08_captioning": "attention_lstm_backward",
}

PERTURB = """

_spoiled_original = {name}


def {name}(*args, **kwargs):
    # Deliberately wrong: the first returned value is 0.1% too large.
    out = _spoiled_original(*args, **kwargs)
    if isinstance(out, tuple):
        return (out[0] * 1.001,) + out[1:]
    return out * 1.001
"""


def spoiled(path):
    name = SPOILED[path.parent.name]
    assert name in graded_function_names(read(path)), f"{path}: no function {name} to spoil"
    return name


def fill(release_nb, solution_nb, spoil=None):
    """The release with every solution cell taken from the solution notebook."""
    sources = {nbgrader_meta(c)["grade_id"]: c.source for c in solution_nb.cells
               if nbgrader_meta(c).get("solution")}
    for cell in release_nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = sources[grade_id]
            if cell.cell_type == "code" and spoil in graded_function_names(
                    nbformat.v4.new_notebook(cells=[cell])):
                cell.source += PERTURB.format(name=spoil)
    return release_nb


CHEAT = """\
import numpy as np
check = lambda *args, **kwargs: None
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
"""


def cheat(nb, spoil):
    """Add a cell that disables the in-kernel checks it can reach, and empty the hidden test
    cell of the spoiled function."""
    imports = next(i for i, c in enumerate(nb.cells)
                   if nbgrader_meta(c).get("grade_id") == "imports")
    cell = nbformat.v4.new_code_cell(CHEAT)
    cell["id"] = "cheat"
    nb.cells.insert(imports + 1, cell)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == f"test_{spoil}":
            cell.source = ""
    return nb


def auto_cells(nb):
    """{grade_id: points} of the auto-graded (code) cells."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in nb.cells
            if nbgrader_meta(c).get("grade") and c.cell_type == "code"}


def round_trip(course):
    """Release, submit and autograde; return {(student, assignment, notebook): {id: score}}."""
    release = course / "release"
    make_release.release(release, log_dir=course)
    for path in solution_notebooks():
        assignment, notebook = path.parent.name, path.name
        released = release / assignment / notebook
        for student in STUDENTS:
            out = course / "submitted" / student / assignment / notebook
            out.parent.mkdir(parents=True, exist_ok=True)
            if student == "blank":
                shutil.copy(released, out)
                continue
            solution = read(path)
            spoil = spoiled(path) if student == "slightly_wrong" else None
            submission = fill(read(released), solution, spoil)
            if spoil:
                submission = cheat(submission, spoil)
            nbformat.write(submission, out)
    command = [sys.executable, "-m", "nbgrader", "autograde", "[0-9]*", "--create", "--force",
               "--log-level=WARN", f"--CourseDirectory.root={course}",
               f"--CourseDirectory.source_directory={SOLUTIONS}",
               f"--CourseDirectory.release_directory={release}",
               f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"]
    run = subprocess.run(command, cwd=course, env=venv_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for path in solution_notebooks():
            for student in STUDENTS:
                submission = gb.find_submission_notebook(path.stem, path.parent.name, student)
                scores[student, path.parent.name, path.stem] = {
                    grade.name: grade.auto_score for grade in submission.grades}
    return scores


# One test, so that the course is built and graded once (a fixture shared by several tests
# would run once per xdist worker).
@pytest.mark.slow
def test_round_trip_with_stock_nbgrader(tmp_path):
    graded = round_trip(tmp_path)
    assert {name for _, name, _ in graded} == set(SPOILED), "SPOILED must name every assignment"
    problems = []
    for path in solution_notebooks():
        key = path.parent.name, path.stem
        expected = auto_cells(read(path))
        if len(expected) < 4:
            problems.append(f"{key}: fewer than four auto-graded questions")
        scenarios = {
            "complete": expected,
            "blank": dict.fromkeys(expected, 0),
            "slightly_wrong": {**expected, f"test_{spoiled(path)}": 0},
        }
        for student, want in scenarios.items():
            got = graded[(student, *key)]
            got = {k: got.get(k) for k in want}
            if got != want:
                problems.append(f"{student} {key}: got {got}, expected {want}")
    assert not problems, "\n".join(problems)
