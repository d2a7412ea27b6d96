"""Smoke tests of the training experiments (copy task, gradient norms, clipping, cells)."""

import importlib
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from experiments import all as all_experiments
from experiments import cells, clipping, copy_task, gradnorm
from rnnlib.gradcheck import eval_numerical_gradient, rel_error
from rnnlib.models import CharRNN
from rnnlib.train import count_params

SMALL = {"num_symbols": 3, "num_distractors": 2, "embed_dim": 4, "hidden_dim": 5}



@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrices on a shared machine: one BLAS thread avoids threads waiting on each
    other (scoped to each test; no environment variable is changed)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_copy_batch_layout():
    rng = np.random.default_rng(0)
    x, y = copy_task.make_batch(rng, 50, 6, 4, 3)
    assert x.shape == (50, 7) and y.shape == (50,)
    assert (x[:, 0] == y).all() and (y < 4).all()
    assert ((x[:, 1:6] >= 4) & (x[:, 1:6] < 7)).all()
    assert (x[:, 6] == 7).all()


@pytest.mark.parametrize("cell", copy_task.CELLS)
def test_copy_model_gradients(cell):
    """The hand-assembled copy-task model agrees with numerical gradients (float64)."""
    rng = np.random.default_rng(1)
    S, Dn = SMALL["num_symbols"], SMALL["num_distractors"]
    p = copy_task.init_params(cell, S + Dn + 1, SMALL["embed_dim"], SMALL["hidden_dim"], S, rng)
    if cell == "peephole":
        p["Wp"] = rng.standard_normal(p["Wp"].shape) * 0.5
    x, y = copy_task.make_batch(rng, 3, 4, S, Dn)
    _, grads, _ = copy_task.loss_and_grads(cell, p, x, y)
    for name in p:
        num = eval_numerical_gradient(lambda _: copy_task.loss_and_grads(cell, p, x, y)[0],
                                      p[name], verbose=False)
        assert rel_error(num, grads[name]) < 1e-6, name


def test_copy_task_short_delay_is_learned():
    cfg = {**copy_task.CONFIG, "hidden_dim": 16, "max_steps": 250, "max_seconds": 60.0,
           "test_size": 200, "lr": 1e-2}
    r = copy_task.train_copy("gru", 2, cfg, seed=0)
    # Solved: the run stops at the first check whose validation accuracy reaches solved_at.
    assert r["stopped"] == "solved" and r["steps"] % cfg["check_every"] == 0
    assert r["accuracy"] > 0.9


def test_copy_run_writes_table(tmp_path):
    res = copy_task.run(str(tmp_path / "c.json"), variants=("rnn",), delays=(2, 3),
                        seeds=(0, 1), log=lambda s: None, max_steps=3, test_size=10,
                        hidden_dim=4)
    row = res["cells"]["rnn"]
    assert res["delays"] == [2, 3] and res["seeds"] == [0, 1]
    assert row["steps"] == [[3, 3], [3, 3]] and len(row["first_losses"][0][1]) == 3
    assert res["forget_bias"] == {"rnn": 0.0} and "code" in res
    assert res["chance"] == pytest.approx(1 / copy_task.CONFIG["num_symbols"])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_gradient_norms_by_distance(cell):
    rng = np.random.default_rng(2)
    S, Dn = SMALL["num_symbols"], SMALL["num_distractors"]
    p = copy_task.init_params(cell, S + Dn + 1, 4, 6, S, rng)
    x, y = copy_task.make_batch(rng, 8, 30, S, Dn)
    h_norms, c_norms = gradnorm.gradient_norms(cell, p, x, y)
    assert len(h_norms) == 31 and all(np.isfinite(h_norms))
    assert (c_norms is None) == (cell == "rnn")
    # The last step's gradient is the read-out's, per example: |dscores @ W_out.T|.
    _, _, scores = copy_task.loss_and_grads(cell, p, x, y)
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    probs[np.arange(8), y] -= 1
    expected = np.linalg.norm(probs @ p["W_out"].T, axis=1).mean()
    assert h_norms[0] == pytest.approx(expected, rel=1e-10)
    # At initialisation the gradient fades with distance.
    assert h_norms[-1] < 0.1 * h_norms[0]


def test_clipping_runs_bound_the_step():
    text = "to be or not to be, that is the question. " * 200
    ids = np.array([ord(c) % 20 for c in text])
    train = ids[: 4 * (len(ids) // 4)].reshape(4, -1)
    cfg = {**clipping.CONFIG, "hidden_dim": 8, "seq_len": 10, "steps": 4}
    plain = clipping.train_run(cfg, train, 20, seed=0, clip=False)
    clipped = clipping.train_run(cfg, train, 20, seed=0, clip=True)
    assert plain["step"] == clipped["step"] == [1, 2, 3, 4]
    # Same seed, same first batch: the first loss and gradient norm are identical.
    assert plain["loss"][0] == pytest.approx(clipped["loss"][0])
    assert plain["grad_norm"][0] == pytest.approx(clipped["grad_norm"][0])


@pytest.mark.parametrize("cell", cells.CELLS)
def test_cells_parameter_count(cell):
    target = cells.n_params("lstm", 64)
    H = cells.matched_hidden(cell, target)
    actual = count_params(CharRNN(65, H, cell).params)
    assert actual == cells.n_params(cell, H)
    assert abs(actual - target) / target < 0.01


def test_all_lists_runnable_experiments():
    names = all_experiments.steps()
    assert names[:5] == ["copy_task", "gradnorm", "clipping", "cells", "charlm"]
    for name in names:
        assert callable(importlib.import_module(f"experiments.{name}").main)



def test_copy_merge_joins_variants(tmp_path):
    small = {"max_steps": 2, "test_size": 10, "hidden_dim": 4}
    a = copy_task.run(str(tmp_path / "a.json"), variants=("gru",), delays=(2, 3), seeds=(0,),
                      log=lambda s: None, **small)
    b = copy_task.run(str(tmp_path / "b.json"), variants=("rnn",), delays=(2, 3), seeds=(0,),
                      log=lambda s: None, **small)
    m = copy_task.merge([str(tmp_path / "a.json"), str(tmp_path / "b.json")],
                        str(tmp_path / "m.json"), log=lambda s: None)
    assert m["delays"] == [2, 3] and m["order"] == ["rnn", "gru"]
    assert m["cells"]["gru"]["accuracy"] == a["cells"]["gru"]["accuracy"]
    assert m["cells"]["rnn"]["accuracy"] == b["cells"]["rnn"]["accuracy"]
    assert len(m["parts"]) == 2
    copy_task.run(str(tmp_path / "c.json"), variants=("rnn",), delays=(2,), seeds=(0,),
                  log=lambda s: None, **small)
    with pytest.raises(ValueError, match="cannot be joined"):
        copy_task.merge([str(tmp_path / "a.json"), str(tmp_path / "c.json")],
                        str(tmp_path / "m2.json"), log=lambda s: None)


def test_cells_run_keeps_finished_cells_on_resume(tmp_path):
    out = tmp_path / "cells.json"
    tiny = {"lstm_hidden": 8, "steps_per_cell": 2, "eval_every": 2, "val_chars": 500,
            "batch_size": 4, "seq_len": 10, "ckpt_dir": str(tmp_path / "ck")}
    first = cells.run(str(out), cells=("rnn",), log=lambda s: None, **tiny)
    assert first["cells"]["rnn"]["steps"] == 2 and first["cells"]["rnn"]["stopped"] == "steps"
    assert len(first["cells"]["rnn"]["first_losses"]) == 2
    saved = json.loads(out.read_text())
    out.write_text(json.dumps({**saved, "partial": True}))  # as if stopped after one cell
    logged = []
    both = cells.run(str(out), cells=("rnn", "gru"), log=logged.append, resume=True, **tiny)
    assert any("rnn: kept" in line for line in logged)
    assert both["cells"]["rnn"] == saved["cells"]["rnn"] and both["order"] == ["rnn", "gru"]
    assert len(both["parts"]) == 2 and "partial" not in json.loads(out.read_text())


def test_copy_run_resumes_a_partial_sweep(tmp_path):
    out = tmp_path / "c.json"
    small = {"max_steps": 3, "test_size": 10, "hidden_dim": 4}
    plan = {"delays": (2, 3), "seeds": (0,), "log": lambda s: None}
    copy_task.run(str(out), variants=("rnn",), **plan, **small)
    saved = json.loads(out.read_text())
    # As if interrupted after the first run: the other row is blank.
    cut = {**saved, "partial": True}
    cut["cells"] = {"rnn": {k: [v[0], [None]] for k, v in saved["cells"]["rnn"].items()}}
    cut["cells"]["rnn"]["accuracy"][0] = [-1.0]  # a marker: kept rows are not retrained
    out.write_text(json.dumps(cut))
    res = copy_task.run(str(out), variants=("rnn", "gru"), resume=True, **plan, **small)
    assert res["cells"]["rnn"]["accuracy"] == [[-1.0], saved["cells"]["rnn"]["accuracy"][1]]
    assert res["cells"]["rnn"]["first_losses"] == saved["cells"]["rnn"]["first_losses"]
    assert res["cells"]["gru"]["steps"] == [[3], [3]] and len(res["parts"]) == 2
    # Another config is another experiment: nothing is kept.
    out.write_text(json.dumps(cut))
    fresh = copy_task.run(str(out), variants=("rnn",), resume=True, **plan,
                          **{**small, "lr": 1e-3})
    assert fresh["cells"]["rnn"]["accuracy"][0] != [-1.0] and "parts" not in fresh


def test_all_runs_named_experiments_and_passes_resume(monkeypatch, capsys):
    calls = []
    for name in ("copy_task", "gradnorm"):
        module = importlib.import_module(f"experiments.{name}")
        monkeypatch.setattr(module, "main", lambda argv, name=name: calls.append((name, argv)))
    all_experiments.main(["gradnorm", "copy_task", "--resume"])
    assert calls == [("copy_task", ["--resume"]), ("gradnorm", [])]  # in make results' order
    assert "gradnorm cannot resume" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        all_experiments.main(["copy_taks"])
    assert "unknown experiment(s) copy_taks" in capsys.readouterr().err
    all_experiments.main(["--list"])
    listed = capsys.readouterr().out
    assert "cells        resumes" in listed and "clipping     reruns" in listed


def test_first_losses_replay_from_the_recorded_config_and_seed(tmp_path):
    """What issue 12's replay test relies on: a results file's config and seed rebuild each
    run, and its first K steps give the recorded losses bit for bit."""
    from experiments import book_gated

    res = copy_task.run(str(tmp_path / "c.json"), variants=("lstm", "gru"), delays=(3,),
                        seeds=(2,), log=lambda s: None, max_steps=12, record_first=4,
                        test_size=10, hidden_dim=5)
    saved = json.loads((tmp_path / "c.json").read_text())
    for variant in saved["order"]:
        replay = copy_task.train_copy(variant, 3, saved["config"], 2, stop_at=4)
        assert replay["first_losses"] == saved["cells"][variant]["first_losses"][0][0]
        assert len(replay["first_losses"]) == 4 and replay["steps"] == 4
    assert copy_task.replay(saved) and not any(a != b for _, a, b in copy_task.replay(saved))
    assert res["cells"]["gru"]["first_losses"] == saved["cells"]["gru"]["first_losses"]
    timing = book_gated.run_timing(None, log=None, max_steps=6, seeds=[1], eval_every=3,
                                   val_size=8, test_size=8, hidden_dim=4, record_first=3)
    again = book_gated.train_timing("peephole", timing["config"], 1, stop_at=3)
    assert again["first_losses"] == timing["cells"]["peephole"][0]["first_losses"]
