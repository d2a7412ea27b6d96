"""Shared helpers of the exercise tests (tests/test_exercises_*.py)."""

import ast
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course import build, release, source  # noqa: E402

SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def solution_notebooks():
    return sorted(SOLUTIONS.glob("[0-9]*/*.ipynb"))


def released_notebooks():
    return sorted(EXERCISES.glob("[0-9]*/*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def graded_function_names(nb):
    """Names of the functions defined in the notebook's solution cells."""
    names = []
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            tree = ast.parse(cell.source)
            names += [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    return names


def hidden_lines(nb):
    """The stripped lines between the hidden-test markers of every cell of a notebook."""
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


def points(nb):
    """{grade_id: points} of the graded cells."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in nb.cells
            if nbgrader_meta(c).get("grade")}


def venv_env():
    """The environment with this interpreter's bin folder first on PATH (nbgrader runs
    `alembic` and `jupyter` from there)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


__all__ = ["ROOT", "SOLUTIONS", "EXERCISES", "MARKERS", "build", "release", "source",
           "solution_notebooks", "released_notebooks", "read", "nbgrader_meta",
           "graded_function_names", "hidden_lines", "points", "venv_env"]
