"""Smoke tests of the character-model training CLI (rnnlib.train): a few steps on tiny data."""

import json
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rnnlib import train
from rnnlib.data import tinyshakespeare_path
from rnnlib.training import lr_at

TINY = {"data": str(tinyshakespeare_path()), "cell": "lstm", "hidden": 16, "layers": 2,
        "dropout": 0.3, "batch": 4, "seq": 12, "lr": 5e-3, "lr_schedule": "constant",
        "clip": 5.0, "minutes": 10.0, "eval_every": 3, "val_chars": 600, "train_chars": 3000,
        "sample_len": 20, "sample_every": 1, "progress": False, "seed": 3}



@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrices on a shared machine: one BLAS thread avoids threads waiting on each
    other (scoped to each test; no environment variable is changed)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def quiet(_msg):
    pass


def test_charlm_smoke_writes_results_and_checkpoints(tmp_path):
    out = tmp_path / "charlm.json"
    res = train.train_charlm(TINY, log=quiet, max_steps=6, ckpt_dir=str(tmp_path / "ck"),
                             out=str(out))
    on_disk = json.loads(out.read_text())
    for key in ("schema", "command", "git_rev", "seed", "date", "machine", "config", "params",
                "curve", "samples", "final"):
        assert key in on_disk, key
    assert on_disk["schema"] == "charlm/1" and on_disk["seed"] == 3
    curve = res["curve"]
    assert curve["step"] == [0, 3, 6]
    assert len({len(v) for v in curve.values()}) == 1
    # From the uniform guess log(65) = 4.17, six Adam steps must bring validation down.
    assert curve["val_loss"][0] == pytest.approx(math.log(65), abs=0.1)
    assert res["final"]["best_val_loss"] < curve["val_loss"][0]
    assert res["final"]["bpc"] == pytest.approx(res["final"]["best_val_loss"] / math.log(2))
    assert res["final"]["steps"] == 6
    assert all(isinstance(s["text"], str) and len(s["text"]) >= 20 for s in res["samples"])
    for name in ("best.npz", "best.json", "last.npz", "last.json"):
        assert (tmp_path / "ck" / name).exists(), name


def test_resume_continues_exactly(tmp_path):
    """3 steps + resume for 3 more gives the parameters of 6 uninterrupted steps.

    The optimiser moments, the carried hidden state, the data position and the dropout
    generator are all restored; any one missing changes the parameters.
    """
    straight = train.train_charlm(TINY, log=quiet, max_steps=6, ckpt_dir=str(tmp_path / "a"))
    train.train_charlm(TINY, log=quiet, max_steps=3, ckpt_dir=str(tmp_path / "b"))
    resumed = train.train_charlm(TINY, log=quiet, max_steps=6, ckpt_dir=str(tmp_path / "b"),
                                 resume=True)
    assert resumed["final"]["steps"] == 6
    assert resumed["curve"]["step"] == straight["curve"]["step"]
    np.testing.assert_allclose(resumed["curve"]["val_loss"], straight["curve"]["val_loss"],
                               rtol=1e-5)
    with np.load(tmp_path / "a" / "last.npz") as a, np.load(tmp_path / "b" / "last.npz") as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_cli_main(tmp_path, capsys):
    out = tmp_path / "cli.json"
    train.main(["charlm", "--cell", "gru", "--hidden", "8", "--layers", "1", "--batch", "2",
                "--seq", "8", "--max-steps", "2", "--eval-every", "2", "--val-chars", "200",
                "--train-chars", "1000", "--sample-len", "10", "--clock", "cpu", "--ckpt-dir",
                str(tmp_path / "ck"), "--out", str(out), "--no-progress", "--threads", "1"])
    res = json.loads(out.read_text())
    assert res["command"].startswith("python -m rnnlib.train charlm --cell gru")
    assert res["config"]["cell"] == "gru" and res["config"]["blas_threads"] == 1
    assert res["config"]["clock"] == "cpu" and len(res["curve"]["wall_s"]) == 2
    assert "best val" in capsys.readouterr().out


def test_lr_schedule_endpoints():
    assert lr_at("constant", 1e-3, 0.7) == 1e-3
    assert lr_at("cosine", 1e-3, 0.0) == pytest.approx(1e-3)
    assert lr_at("cosine", 1e-3, 1.0, min_frac=0.1) == pytest.approx(1e-4)
    assert lr_at("cosine", 1e-3, 0.5, min_frac=0.0) == pytest.approx(5e-4)
    assert lr_at("cosine", 1e-3, 0.0, warmup_frac=0.1) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="schedule"):
        lr_at("linear", 1e-3, 0.5)


def test_step_limited_run_anneals_over_its_declared_steps():
    """The schedule follows the step index: with a 10-minute limit that never binds, six
    declared steps still anneal (the old schedule followed the clock and stayed at lr)."""
    lines = []
    cfg = {**TINY, "lr_schedule": "cosine", "lr_min_frac": 0.1}
    res = train.train_charlm(cfg, log=lines.append, max_steps=6, ckpt_dir=None)
    lrs = [float(line.split(" lr ")[1].split()[0]) for line in lines if " lr " in line]
    assert lrs == pytest.approx([lr_at("cosine", 5e-3, 2 / 6), lr_at("cosine", 5e-3, 5 / 6)],
                                rel=1e-2)  # the log prints three digits
    assert res["final"]["stopped"] == "steps"
    assert res["config"]["lr_schedule"] == "cosine over 6 steps to 0.1 x lr"
    with pytest.raises(ValueError, match="step index"):
        train.train_charlm(cfg, log=quiet, max_steps=None)


def test_first_steps_replay_from_the_recorded_settings():
    cfg = {**TINY, "lr_schedule": "cosine", "record_first": 4}
    res = train.train_charlm(cfg, log=quiet, max_steps=8, ckpt_dir=None)
    assert len(res["first_losses"]) == 4
    replay = train.train_charlm(res["settings"], log=quiet, stop_at=4)
    assert replay["final"]["stopped"] == "stop_at" and replay["final"]["steps"] == 4
    assert replay["first_losses"] == res["first_losses"]  # bit for bit
    # A time limit stops a run early but leaves its first steps as they were.
    cut = train.train_charlm(res["settings"], log=quiet, minutes=1e-9)
    assert cut["final"]["stopped"] == "time limit"
    assert cut["first_losses"] == res["first_losses"][:1]


def test_resume_under_a_cosine_schedule_is_the_uninterrupted_run(tmp_path):
    cfg = {**TINY, "lr_schedule": "cosine", "max_steps": 6, "record_first": 6}
    straight = train.train_charlm(cfg, log=quiet, ckpt_dir=str(tmp_path / "a"))
    train.train_charlm(cfg, log=quiet, ckpt_dir=str(tmp_path / "b"), stop_at=3)
    resumed = train.train_charlm(cfg, log=quiet, ckpt_dir=str(tmp_path / "b"), resume=True)
    assert resumed["first_losses"] == straight["first_losses"]
    # The sampling generator resumes too.
    assert [s["text"] for s in resumed["samples"]] == [s["text"] for s in straight["samples"]]
    assert resumed["curve"]["val_loss"] == straight["curve"]["val_loss"]


def test_resume_refuses_other_settings(tmp_path):
    train.train_charlm(TINY, log=quiet, max_steps=3, ckpt_dir=str(tmp_path))
    with pytest.raises(ValueError, match="hidden=16 .now 24."):
        train.train_charlm(TINY, log=quiet, max_steps=6, ckpt_dir=str(tmp_path), resume=True,
                           hidden=24)
