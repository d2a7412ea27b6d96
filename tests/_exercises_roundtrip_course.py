"""The round-trip course shared by tests/test_exercises_roundtrip*.py.

One course with three students who each submit every assignment: ``complete`` (the solution
cells of solutions/ pasted into the release), ``blank`` (the release untouched) and
``slightly_wrong`` (complete, but one function per assignment returns a first output off by
0.1%, and it tries to cheat: it rebinds `check`, makes `np.allclose` and
`np.testing.assert_allclose` always pass, and empties the hidden test cell of its wrong
function).

`SharedCourse` builds the submissions and runs stock `nbgrader autograde` on them at most once
per pytest run, even under pytest-xdist: the first worker that needs a stage does it under a
file lock and leaves the result on disk for the others.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from _exercises_util import (
    SOLUTIONS,
    graded_function_names,
    nbgrader_meta,
    read,
    release,
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
    "09_seq2seq": "greedy_decode",
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


def add_cheat_cell(nb):
    """Add, after the imports, a cell that disables the in-kernel checks it can reach."""
    imports = next(i for i, c in enumerate(nb.cells)
                   if nbgrader_meta(c).get("grade_id") == "imports")
    cell = nbformat.v4.new_code_cell(CHEAT)
    cell["id"] = "cheat"
    nb.cells.insert(imports + 1, cell)
    return nb


def cheat(nb, spoil):
    """Add the cheat cell, and empty the hidden test cell of the spoiled function."""
    nb = add_cheat_cell(nb)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == f"test_{spoil}":
            cell.source = ""
    return nb


def auto_cells(nb):
    """{grade_id: points} of the auto-graded (code) cells."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in nb.cells
            if nbgrader_meta(c).get("grade") and c.cell_type == "code"}


def submission(path, released, student):
    """The notebook `student` hands in for the solution notebook `path`, given its release."""
    if student == "blank":
        return read(released)
    spoil = spoiled(path) if student == "slightly_wrong" else None
    nb = fill(read(released), read(path), spoil)
    return cheat(nb, spoil) if spoil else nb


def build_submissions(course):
    """Release every assignment into course/release and write the students' submissions in
    nbgrader's layout course/submitted/<student>/<assignment>/<notebook>.ipynb."""
    course.mkdir(parents=True, exist_ok=True)
    release_dir = course / "release"
    release.release(release_dir, log_dir=course)
    for path in solution_notebooks():
        assignment, notebook = path.parent.name, path.name
        for student in STUDENTS:
            out = course / "submitted" / student / assignment / notebook
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission(path, release_dir / assignment / notebook, student), out)


def nbgrader_autograde(course):
    """Grade every submission of `course` with one `nbgrader autograde` run; return
    {"student/assignment/notebook": {grade_id: auto_score}}."""
    command = [sys.executable, "-m", "nbgrader", "autograde", "[0-9]*", "--create", "--force",
               "--log-level=WARN", f"--CourseDirectory.root={course}",
               f"--CourseDirectory.source_directory={SOLUTIONS}",
               f"--CourseDirectory.release_directory={course / 'release'}",
               f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"]
    run = subprocess.run(command, cwd=course, env=venv_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for path in solution_notebooks():
            for student in STUDENTS:
                sub = gb.find_submission_notebook(path.stem, path.parent.name, student)
                scores[f"{student}/{path.parent.name}/{path.stem}"] = {
                    grade.name: grade.auto_score for grade in sub.grades}
    return scores


def shared_dir(tmp_path_factory):
    """A folder of this pytest run that every xdist worker sees."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder; each worker's basetemp is inside it
    return base / "exercises_roundtrip"


class SharedCourse:
    """The course in `root`, each stage done once for all the processes that share `root`."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.course = self.root / "course"

    def _once(self, stage, build):
        """build()'s JSON-able result, computed by the first caller and read by the others
        (a failure is recorded too, so that the others fail with its message instead of
        doing the work again)."""
        result = self.root / f"{stage}.json"
        with open(self.root / f"{stage}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not result.exists():
                try:
                    value = {"ok": build()}
                except BaseException as error:
                    value = {"error": f"{type(error).__name__}: {error}"}
                    _write_json(result, value)
                    raise
                _write_json(result, value)
        value = json.loads(result.read_text())
        assert "ok" in value, f"stage {stage} failed in another worker: {value['error']}"
        return value["ok"]

    def submissions(self):
        """The folder of the submissions, nbgrader's layout <student>/<assignment>/..."""
        def build():
            if self.course.exists():
                shutil.rmtree(self.course)
            build_submissions(self.course)
            return str(self.course / "submitted")
        return Path(self._once("submissions", build))

    def nbgrader_scores(self):
        """{(student, assignment, notebook): {grade_id: auto_score}} from stock nbgrader."""
        def build():
            self.submissions()
            return nbgrader_autograde(self.course)
        scores = self._once("nbgrader", build)
        return {tuple(key.split("/")): value for key, value in scores.items()}


def _write_json(path, value):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)
