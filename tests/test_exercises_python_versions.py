"""What a student runs needs no newer Python than the release says: vermin (pinned) finds the
oldest Python that rnntools and the code cells of every released notebook need, and it must
be the requires-python of rnntools (only 3.11 is on these machines, so this is checked
statically), which exercises/README.md states too."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _exercises_util import EXERCISES, ROOT, read, released_notebooks

PYPROJECT = ROOT / "rnntools" / "pyproject.toml"


def _oldest(pyproject=PYPROJECT):
    """The X.Y of a pyproject's requires-python = ">=X.Y" (no tomllib: it runs on 3.10)."""
    found = re.search(r'^requires-python\s*=\s*">=\s*(3\.\d+)"', pyproject.read_text(), re.M)
    assert found, f"{pyproject} needs requires-python = \">=3.N\""
    return found.group(1)


def _vermin(*paths, oldest=None):
    # vermin has no __main__ module: its console script sits beside this Python.
    command = [str(Path(sys.executable).parent / "vermin"), "--no-tips", "--violations",
               f"-t={oldest or _oldest()}-", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def _notebook_code(folder):
    """Each released notebook's code cells as one .py file (IPython magics left out)."""
    for path in released_notebooks():
        lines = [line for cell in read(path).cells if cell.cell_type == "code"
                 for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        (folder / f"{path.parent.name}.py").write_text("\n".join(lines) + "\n")
    return folder


def test_requires_python_is_stated_in_the_readme_and_the_release():
    oldest = _oldest()
    assert f"Python {oldest} or newer" in (EXERCISES / "README.md").read_text()
    copied = EXERCISES / "rnntools" / "pyproject.toml"
    assert copied.read_text() == PYPROJECT.read_text()


@pytest.mark.slow
def test_rnntools_and_the_notebooks_run_on_the_oldest_python_they_claim(tmp_path):
    run = _vermin(ROOT / "rnntools", _notebook_code(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Minimum required versions:" in run.stdout


@pytest.mark.slow
def test_the_course_code_runs_on_the_python_its_packaging_claims():
    """rnnlib, the grader and the course's scripts need no newer Python than rnnlib's
    requires-python (3.10: Gradescope's image, issue 11); `datetime.UTC` once broke it."""
    oldest = _oldest(ROOT / "pyproject.toml")
    assert oldest == "3.10"
    run = _vermin(*(ROOT / name for name in ("rnnlib", "autograder", "course", "experiments",
                                             "benchmarks", "scripts")), oldest=oldest)
    assert run.returncode == 0, run.stdout + run.stderr


def test_vermin_sees_newer_python(tmp_path):
    """A planted 3.11-only import fails the check (so the check above can fail)."""
    (tmp_path / "newer.py").write_text("import tomllib\n")
    run = _vermin(tmp_path)
    assert run.returncode != 0 and "tomllib" in run.stdout, run.stdout + run.stderr
