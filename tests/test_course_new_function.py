"""CONTRIBUTING.md's checklist for a new graded function, done end to end in a copy of the
repository: a throwaway function in rnnlib, its case generator, a new assignment's manifest and
template, then `python -m course.build` and `python -m course.release` for that assignment
alone; the filled notebook gets full marks from stock `nbgrader autograde` and from
`python -m autograder grade` (sandboxed).

The copy runs in a fresh virtual environment that finds the copy's rnnlib, rnntools, course and
autograder before anything else (a .pth file naming the copy), so this repository's editable
installs play no part (the test checks where each package is imported from). Offline, the
environment gets this one's installed packages in two ways: hard links of the few the student's
kernel needs (NumPy, IPython and what they require), because the grader's sandbox shows a kernel
its own environment only; and a .pth file naming this environment's site-packages for the rest
(nbgrader), which the sandbox does not show. Such a .pth line only adds a folder: the .pth files
inside it (the editable installs) are not run.
"""

import csv
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from _exercises_roundtrip_course import fill
from _exercises_util import ROOT, nbgrader_meta, read

# It starts a grader sandbox: with the other modules that do, on one xdist worker (their "no
# process left behind" checks would count its live sandbox).
pytestmark = [pytest.mark.xdist_group("course_new_function"), pytest.mark.sandbox]

ASSIGNMENT = "99_throwaway"
#: What the grader's worker and the notebook import in the sandbox.
KERNEL_PACKAGES = ("numpy", "ipython")

FUNCTION = '''

def leaky_relu(x, alpha):
    """Leaky rectifier: x where x > 0, alpha * x elsewhere (a throwaway graded function).

    Inputs:
    - x: array of shape (N, D), float32 or float64.
    - alpha: the slope for negative inputs, a float.

    Returns an array of x's shape and dtype.
    """
    dims("x", x, "(N, D)")
    return np.where(x > 0, x, alpha * x).astype(x.dtype)
'''

GENERATOR = '''

@_generator("leaky_relu")
def leaky_relu(rng, N, D, alpha):
    return {"x": _normal(rng, N, D), "alpha": np.float64(alpha)}
'''

MANIFEST = """\
questions:
  - grade_id: test_leaky_relu
    points: 2
    grades: rnnlib.throwaway.leaky_relu
    case: leaky_relu
    run:
      - leaky_relu(x, float(alpha)) -> out
    hidden:
      - {seed: 0, N: 1, D: 3, alpha: 0.1}
      - {seed: 1, N: 4, D: 5, alpha: 0.0}
    visible:
      - {seed: 100, N: 2, D: 3, alpha: 0.5}
"""

TEMPLATE = """\
%% markdown
# Assignment 99: a throwaway

Questions and points: `leaky_relu` (2).
%% imports id=imports
import numpy as np

from rnntools.grading import case, check, submit
%% solution leaky_relu
%% visible test_leaky_relu
%% hidden test_leaky_relu
"""

MODULES = ("autograder", "course", "rnnlib", "rnntools")
WHERE = """
import json, autograder, course, rnnlib, rnnlib.throwaway, rnntools
import numpy
modules = {m.__name__: m.__file__ for m in (autograder, course, rnnlib, rnntools)}
print(json.dumps(modules | {"numpy": numpy.__file__}))
"""


def copy_repository(dest):
    """The repository's tracked files, as they are in the working tree, copied to dest."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def add_the_function(repo):
    """The checklist's steps 1 to 3, in the copy."""
    (repo / "rnnlib" / "throwaway.py").write_text(
        '"""A throwaway module."""\n\nimport numpy as np\n\nfrom rnntools.checks import dims\n'
        + FUNCTION)
    with open(repo / "rnntools" / "grading" / "cases.py", "a") as f:
        f.write(GENERATOR)
    folder = repo / "course" / ASSIGNMENT
    folder.mkdir()
    (folder / "manifest.yaml").write_text(MANIFEST)
    (folder / "throwaway.cells").write_text(TEMPLATE)


def requirements(names):
    """The installed distributions ``names`` need, themselves included (extras left out)."""
    found, todo = {}, list(names)
    while todo:
        name = re.split(r"[\s;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in found:
            continue
        try:
            found[name] = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # needed on another platform or Python only
        todo += [r for r in found[name].requires or [] if "extra ==" not in r]
    return list(found.values())


def link_kernel_packages(site):
    """Hard-link the files of the packages a student's kernel imports into ``site``."""
    ours = Path(sysconfig.get_paths()["purelib"]).resolve()
    for dist in requirements(KERNEL_PACKAGES):
        for rel in dist.files or []:
            src = Path(dist.locate_file(rel)).resolve()
            if src.is_relative_to(ours) and src.is_file():
                dst = site / src.relative_to(ours)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    os.link(src, dst)


def environment(tmp_path, repo):
    """(python, env) of a fresh venv that sees the copy first, then the borrowed packages."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    site = Path(site.stdout.strip())
    link_kernel_packages(site)
    (site / "0-copy.pth").write_text(f"{repo}\n")
    (site / "1-borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PIP_", "JUPYTER", "AUTOGRADER"))}
    # nbgrader runs `alembic` and `jupyter` from PATH: the borrowed environment's bin folder.
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    return str(python), env


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def nbgrader_scores(python, env, course, solutions):
    run(python, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create", "--force",
        "--log-level=WARN", f"--CourseDirectory.root={course}",
        f"--CourseDirectory.source_directory={solutions}",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}", cwd=course, env=env)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook("throwaway", ASSIGNMENT, "alice")
        return {grade.name: grade.auto_score for grade in sub.grades}


@pytest.mark.slow
def test_a_new_graded_function_goes_from_rnnlib_to_full_marks(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    add_the_function(repo)
    python, env = environment(tmp_path, repo)
    where = json.loads(run(python, "-c", WHERE, cwd=tmp_path, env=env))
    assert all(Path(where[m]).is_relative_to(repo) for m in MODULES), where
    assert Path(where["numpy"]).is_relative_to(tmp_path / "venv"), where

    # Step 4: build and release the new assignment alone (one nbgrader run).
    run(python, "-m", "course.build", "--assignment", ASSIGNMENT, cwd=repo, env=env)
    course = tmp_path / "course"  # nbgrader's course folder, with the gradebook of the release
    course.mkdir()
    run(python, "-m", "course.release", "--assignment", ASSIGNMENT, "--log-dir", str(course),
        cwd=repo, env=env)
    solution = repo / "solutions" / ASSIGNMENT / "throwaway.ipynb"
    released = repo / "exercises" / ASSIGNMENT / "throwaway.ipynb"
    assert "rnnlib/throwaway.py" in read(solution).metadata["course_source"]["sources"]
    assert "BEGIN HIDDEN TESTS" not in released.read_text()
    assert "np.where(x > 0" not in released.read_text()
    assert "`leaky_relu` | 2 + 0 |" in (repo / "exercises" / "README.md").read_text()

    submitted = course / "submitted" / "alice" / ASSIGNMENT / "throwaway.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(fill(read(released), read(solution)), submitted)

    points = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"]
              for c in read(solution).cells if nbgrader_meta(c).get("grade")}
    assert points == {"test_leaky_relu": 2}
    assert nbgrader_scores(python, env, course, repo / "solutions") == points

    out = tmp_path / "out"
    run(python, "-m", "autograder", "grade", str(course / "submitted"), "--out", str(out),
        "--source", str(repo / "solutions"), "--assignment", ASSIGNMENT, "--workers", "1",
        "--quiet", cwd=repo, env=env)
    with open(out / "grades.csv", encoding="utf-8", newline="") as f:
        rows = [(r["question"], float(r["score"]), r["status"]) for r in csv.DictReader(f)]
    assert rows == [("test_leaky_relu", 2.0, "ok")]
