"""A student installs the base package from the release alone: a copy of exercises/ by itself,
a fresh virtual environment, `pip install ./exercises/rnntools` with no network, and a released
notebook's first cells run.

Offline: the fresh environment borrows this environment's installed packages (NumPy, IPython,
setuptools) through a .pth file, and pip installs the copied package with --no-index --no-deps.
Such a .pth line only adds a folder to sys.path (the .pth files inside it are not run), so the
editable installs of this repository stay invisible to the fresh environment.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from _exercises_util import EXERCISES, nbgrader_meta, read

NOTEBOOK = Path("02_rnn") / "rnn.ipynb"

AFTER = """
import rnntools
from rnntools.grading import case, check, fingerprint, submit

c = case("rnn_step_forward", seed=0, N=1, D=4, H=5)
check(c, {"x": fingerprint(c["x"])}, x=c["x"])
submit(c, x=c["x"])
print(json.dumps({"rnntools": rnntools.__file__, "x": list(c["x"].shape)}))
"""


def first_cells(nb):
    """The code of the notebook's code cells before its first solution cell."""
    code = []
    for cell in nb.cells:
        if nbgrader_meta(cell).get("solution"):
            break
        if cell.cell_type == "code":
            code.append(cell.source)
    return code


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_release_alone_installs_rnntools_and_runs_the_first_cells(tmp_path):
    release = tmp_path / "exercises"
    shutil.copytree(EXERCISES, release, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    run(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
        "--no-build-isolation", str(release / "rnntools"), cwd=tmp_path, env=env)

    cells = first_cells(read(EXERCISES / NOTEBOOK))
    assert any("from rnntools" in code for code in cells), "the first cells import rnntools"
    script = "\n\n".join(["import json", *cells, AFTER])
    # -I: neither the working folder nor PYTHONPATH is on sys.path, only the environment.
    out = run(python, "-I", "-c", script, cwd=release / NOTEBOOK.parent, env=env)
    found = json.loads(out.strip().splitlines()[-1])
    assert Path(found["rnntools"]).is_relative_to(site), found
    assert found["x"] == [1, 4]
    assert "submitted rnn_step_forward" in out
