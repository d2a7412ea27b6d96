"""Gradescope (issue 14, part 4): the autograder zip of a real assignment, and its
``run_autograder`` end to end under an override of the ``/autograder`` root, in a folder laid
out as Gradescope lays it out (``source/`` = the unzipped zip, ``submission/``,
``results/``), in the declared container mode: student code under an unprivileged uid that
can read neither the source nor the hidden tests. Also ``export --format gradescope``."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import pytest

from autograder.stages.feedback import scan_text
from autograder.stages.plan import load_plans

pytestmark = [pytest.mark.xdist_group("autograder_gradescope"), pytest.mark.sandbox,
              pytest.mark.skipif(os.getuid() != 0, reason="the container mode needs root")]

ROOT = Path(__file__).resolve().parents[1]
A = "02_rnn"

#: Every answer right, unless student code can read what it must not or runs as root.
PROBE = """import os
_ROOT = {root!r}
_SABOTAGE = os.getuid() == 0 or any(os.access(p, os.R_OK) for p in (
    _ROOT + "/source", _ROOT + "/source/source/02_rnn/rnn.ipynb", _ROOT + "/submission"))
"""
SABOTAGE = "\nif _SABOTAGE:\n    {f} = lambda *args, **kwargs: None\n"


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory):
    """An /autograder lookalike other users may traverse (so only the modes inside keep the
    source private), with the unzipped autograder in source/."""
    z = tmp_path_factory.mktemp("zip") / "autograder.zip"
    made = subprocess.run([sys.executable, "-m", "autograder", "gradescope-zip", A,
                           "--out", str(z), "--timeout", "20"], cwd=ROOT, capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
    for need in ("setup.sh", "run_autograder", "autograder/worker.py", "course/plugin.py",
                 f"source/{A}/rnn.ipynb", "student_packages/rnntools/__init__.py",
                 "requirements.txt", "gradescope.json"):
        assert need in names, need
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="gradescope-root-"))
    root.chmod(0o755)
    yield z, root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(z, root, notebook):
    for sub in ("source", "submission", "results"):
        shutil.rmtree(root / sub, ignore_errors=True)
    with zipfile.ZipFile(z) as zf:
        zf.extractall(root / "source")
    (root / "submission" / "hw").mkdir(parents=True)
    nbformat.write(notebook, str(root / "submission" / "hw" / "RNN.ipynb"))
    (root / "results").mkdir()
    for path in [root / "source", *(root / "source").rglob("*")]:
        path.chmod(path.stat().st_mode | 0o055)  # as unzipped: readable by all, until run
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    env.pop("AUTOGRADER_SANDBOX", None)
    cmd = corpus.reachable_python(["bash", str(root / "source" / "run_autograder")])
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return run, json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_in_the_container_mode(gradescope_root):
    z, root = gradescope_root
    src = nbformat.read(str(ROOT / "solutions" / A / "rnn.ipynb"), as_version=4)
    release = nbformat.read(str(ROOT / "exercises" / A / "rnn.ipynb"), as_version=4)
    full = corpus._wrap_cell(corpus.fill(release, src), src, SABOTAGE)
    full.cells.insert(0, nbformat.v4.new_code_cell(PROBE.format(root=str(root))))
    plan = load_plans(ROOT / "solutions", [A])[A]["rnn"]
    auto = [q for q in plan.questions if q.kind == "auto"]

    run, res = run_autograder(z, root, full)
    assert run.returncode == 0, run.stderr + run.stdout
    assert [t["name"] for t in res["tests"]] == [f"rnn: {q.grade_id}" for q in auto]
    assert res["score"] == sum(q.points for q in auto), res
    for t, q in zip(res["tests"], auto, strict=True):
        assert t["score"] == t["max_score"] == q.points and t["output"].startswith("ok")
        want = "after_published" if plan.hidden_ranges[q.grade_id] else "visible"
        assert t["visibility"] == want, t
    assert {t["visibility"] for t in res["tests"]} >= {"after_published"}
    assert "container mode" in res["extra_data"]["warnings"][0]
    for private in (root / "source", root / "submission"):
        assert private.stat().st_mode & 0o077 == 0

    blank, res = run_autograder(z, root, release)
    assert blank.returncode == 0, blank.stderr
    assert res["score"] == 0 and {t["output"].split(":")[0] for t in res["tests"]} == {"failed"}
    assert not scan_text(json.dumps(res), plan.secrets)
