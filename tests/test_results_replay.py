"""Every results file is what today's code makes: its first recorded steps replay bit for bit.

Each training run records the losses of its first K steps at full precision, under a
learning-rate schedule that follows the step index; `experiments.replay` reruns them from
the recorded config and seed. A change to rnnlib or to an experiment that would change a
result changes those losses, so this test fails until the result is made again
(`python -m experiments.all NAME`). Files made with PyTorch are checked by the fingerprint of
the code that made them (their replay runs under `make bench`); binary files by the digest
their results file records.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from experiments import replay
from rnnlib.results import RESULTS_DIR, read_json

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("results-replay")


def results_files():
    return sorted(p.name for p in RESULTS_DIR.iterdir() if p.name != "README.md")


def test_every_results_file_has_a_check():
    covered = set(replay.REPLAYS) | set(replay.TORCH) | set(replay.COMPANIONS)
    unknown = [name for name in results_files() if name not in covered]
    assert not unknown, f"results files that no replay or digest covers: {unknown}"


# The captioners' replays encode the training scenes their first batches draw chunk by chunk
# as the run did (about a minute or two on this machine): `make test`, not `make check`.
SLOW_REPLAYS = ("captioning.json", "captioning_nopenalty.json")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_REPLAYS
                                  else n for n in sorted(replay.REPLAYS)])
def test_replay_of_the_first_steps(name):
    if not (RESULTS_DIR / name).exists():
        pytest.fail(f"results/{name} is missing: python -m experiments.all makes it")
    result = read_json(RESULTS_DIR / name)
    assert not result.get("partial"), f"{name} is a partial file: finish it with --resume"
    with threadpool_limits(limits=1, user_api="blas"):
        checks = replay.replay_file(name)
    assert checks, f"{name}: nothing to replay"
    bad = replay.mismatches(checks)
    assert not bad, (f"{name} is not what today's code makes; rerun its experiment "
                     "(python -m experiments.all ...):\n" + "\n".join(bad[:5])
                     + _kernel_note())


#: The OpenBLAS kernels every results file was made with: what OpenBLAS picks by itself on the
#: AVX-512 AMD EPYC that CI runs on (no OPENBLAS_* set there).
RESULTS_KERNEL = "SkylakeX"


def _kernel_note():
    """When OpenBLAS runs other kernels than the results were made with, every replay differs
    in the last bits without any code having changed: say so."""
    from threadpoolctl import threadpool_info

    kernels = {i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"}
    if kernels <= {RESULTS_KERNEL}:
        return ""
    here = ", ".join(sorted(map(str, kernels)))
    return (f"\n(OpenBLAS runs its {here} kernels here; the results "
            f"were made with its {RESULTS_KERNEL} kernels, which round otherwise: to replay them "
            f"on this machine, set OPENBLAS_CORETYPE={RESULTS_KERNEL} on a CPU that has them, "
            "or make the files again here.)")


def shallow_clone():
    found = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT,
                           capture_output=True, text=True)
    return found.stdout.strip() != "false"


@pytest.mark.skipif(shallow_clone(), reason="a shallow clone lacks the older commits")
def test_every_results_file_names_a_commit_in_mains_history():
    """A results file's revision must be an ancestor of HEAD: one made on a branch that was
    rebased afterwards names a commit that a clone of main does not fetch (CI's failure)."""
    outside = [f"{name} ({rev})" for name in results_files() if name.endswith(".json")
               for rev in [read_json(RESULTS_DIR / name).get("git_rev", "").split("-dirty")[0]]
               if rev and not replay.revision_in_history(rev)]
    assert not outside, f"results files whose revision is not in HEAD's history: {outside}"


@pytest.mark.parametrize("name", replay.TORCH)
def test_pytorch_files_were_made_by_todays_code(name):
    changed = replay.torch_code_changes(name)
    assert changed is not None, (f"{name} names no code that made it, or a revision outside "
                                 "HEAD's history: make it again")
    assert not changed, f"{name} was made by other code: {changed} changed since"


@pytest.mark.parametrize("name", sorted(replay.COMPANIONS))
def test_binary_files_belong_to_their_results_file(name):
    recorded, now = replay.companion_digest(name)
    assert recorded == now, f"{name} is not the file its results file was made with"


@pytest.mark.slow
def portable_numpy():
    """What picks the arithmetic kernels, as this process has it: the NumPy CPU features the
    Makefile turned off (scripts/numpy_portable_features.py) and the machine's OPENBLAS_*
    settings (OPENBLAS_CORETYPE names the BLAS kernels)."""
    return {k: v for k, v in os.environ.items()
            if k == "NPY_DISABLE_CPU_FEATURES" or k.startswith("OPENBLAS_")}


def test_a_changed_optimizer_fails_the_replay_in_a_copy(tmp_path):
    """The replay can fail: in a copy of the code, a changed SGD step (an update 1e-6
    larger) makes the clipping file's replay disagree, and the unchanged copy agrees."""
    for folder in ("rnnlib", "rnntools", "experiments"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "results").mkdir()
    shutil.copy(RESULTS_DIR / "clipping.json", tmp_path / "results")
    (tmp_path / "data").symlink_to(ROOT / "data")

    def run():
        return subprocess.run([sys.executable, "-m", "experiments.replay", "clipping.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin",
                                   **portable_numpy()})

    same = run()
    assert same.returncode == 0, same.stdout + same.stderr
    optim = tmp_path / "rnnlib" / "optim.py"
    text = optim.read_text()
    step = 'next_w = w - config["learning_rate"] * dw\n'   # sgd's update line
    assert text.count(step) == 1
    optim.write_text(text.replace(step, step[:-1] + " * (1 + 1e-6)\n"))
    changed = run()
    assert changed.returncode == 1 and "replayed" in changed.stdout, changed.stdout


def test_numpy_runs_its_portable_kernels():
    """The replays compare last bits, which NumPy's AVX-512 kernels change: `make test` and
    `make check` turn them off (scripts/numpy_portable_features.py). Run pytest through make,
    or with NPY_DISABLE_CPU_FEATURES set as the Makefile sets it."""
    import importlib.util

    path = ROOT / "scripts" / "numpy_portable_features.py"
    spec = importlib.util.spec_from_file_location("numpy_portable_features", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    wide = script.wide_features()
    assert not wide, f"NumPy uses {wide}: the replays would differ in the last bit"
