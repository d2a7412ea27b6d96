"""rnnlib.rnn_dropout: variational dropout for the LSTM against numerical gradients, the
mask shared by every time step, the test mode, the character model's three modes, and a
smoke run of experiments/rnn_dropout.py.

The layer functions this composes (lstm_step_forward/backward, dropout_forward) are checked
in test_layers_gradients.py and test_layers_dropout.py; here the object is the wiring (which
mask multiplies what, in the forward and the backward pass), whose faults give errors of
order 1, so the bound is on the relative error of each whole array, as in test_deep_rnn.py.
"""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from experiments import rnn_dropout as experiment
from rnnlib.cells import seq_backward, seq_forward
from rnnlib.layers import dropout_forward, lstm_forward_state
from rnnlib.models import CharRNN
from rnnlib.rnn_dropout import (
    DropoutCharLSTM,
    locked_dropout_backward,
    locked_dropout_forward,
    sequence_mask,
    variational_lstm_backward,
    variational_lstm_forward,
)
from rnntools.gradcheck import eval_numerical_gradient

TOL = 1e-8
N, T, D, H = 3, 5, 4, 6
TRAIN = {"p": 0.6, "mode": "train", "seed": 11}


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def rel_norm_error(analytic, numeric):
    return float(np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric))


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal((N, T, D)), "h0": 0.5 * rng.standard_normal((N, H)),
              "c0": 0.5 * rng.standard_normal((N, H)),
              "Wx": rng.standard_normal((D, 4 * H)) / np.sqrt(D),
              "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
              "b": 0.1 * rng.standard_normal(4 * H)}
    return arrays, rng.standard_normal((N, T, H)), rng.standard_normal((N, H))


def _forward(a, param):
    return variational_lstm_forward(a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"], param)


@pytest.mark.parametrize("param", [TRAIN, {"p": 0.6, "mode": "test"}, None])
def test_variational_backward_matches_numerical_gradients(param):
    a, dh, dc = _setup()
    h, c, cache = _forward(a, param)
    dx, dh0, dc0, dWx, dWh, db = variational_lstm_backward(dh, cache, dc_last=dc)
    analytic = {"x": dx, "h0": dh0, "c0": dc0, "Wx": dWx, "Wh": dWh, "b": db}

    def loss(_):
        h, c, _ = _forward(a, param)        # the seed gives the same masks at every call
        return float((h * dh).sum() + (c * dc).sum())

    for name, grad in analytic.items():
        numeric = eval_numerical_gradient(loss, a[name], verbose=False)
        assert rel_norm_error(grad, numeric) < TOL, name


def test_one_mask_serves_every_time_step():
    a, _, _ = _setup(1)
    h, _, (steps, mask_x, mask_h) = _forward(a, TRAIN)
    assert mask_x.shape == (N, D) and mask_h.shape == (N, H)
    assert 0 < (mask_x == 0).mean() < 1 and 0 < (mask_h == 0).mean() < 1
    assert set(np.unique(mask_x)) == {0.0, 1 / TRAIN["p"]}
    prev = a["h0"]
    for t, cache in enumerate(steps):
        x_in, h_in = cache[0], cache[1]       # what step t's gates were given
        np.testing.assert_array_equal(x_in, a["x"][:, t] * mask_x)
        np.testing.assert_array_equal(h_in, prev * mask_h)
        prev = h[:, t]                         # the state itself is passed on unmasked


def test_test_mode_is_the_plain_lstm():
    a, dh, _ = _setup(2)
    ref_h, ref_c, ref_cache = lstm_forward_state(a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"],
                                                 a["b"])
    for param in ({"p": 0.5, "mode": "test"}, {"p": 1.0, "mode": "train"}, None):
        h, c, cache = _forward(a, param)
        assert cache[1] is None and cache[2] is None
        np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c, ref_c, rtol=1e-12, atol=1e-14)
    out, drop = locked_dropout_forward(a["x"], {"p": 0.5, "mode": "test"})
    np.testing.assert_array_equal(out, a["x"])
    np.testing.assert_array_equal(locked_dropout_backward(a["x"], drop), a["x"])
    assert sequence_mask(N, D, {"p": 0.5, "mode": "test"}) is None


def test_locked_dropout_gradient_and_shared_mask():
    a, _, _ = _setup(3)
    out, mask = locked_dropout_forward(a["x"], TRAIN)
    assert mask.shape == (N, D)
    np.testing.assert_array_equal(out, a["x"] * mask[:, None, :])
    dout = np.random.default_rng(4).standard_normal(a["x"].shape)
    numeric = eval_numerical_gradient(
        lambda x: float((locked_dropout_forward(x, TRAIN)[0] * dout).sum()), a["x"],
        verbose=False)
    assert rel_norm_error(locked_dropout_backward(dout, mask), numeric) < TOL


def dropped_inputs(forward_backward, x):
    """(N, T, D) bool: the input units whose gradient is exactly zero, i.e. dropped."""
    return forward_backward(x) == 0


def assert_variational(forward_backward, x):
    """A unit dropped at one step of a sequence is dropped at every step of it."""
    dead = dropped_inputs(forward_backward, x)
    assert dead.any(), "nothing was dropped"
    same = (dead == dead[:, :1]).all()
    assert same, "the dropped input units change from step to step: not variational"


def test_a_per_step_mask_is_detected_as_not_variational():
    """The check above passes the variational layer and fails a planted fault: dropout with
    a fresh mask at every step in front of the same LSTM (Zaremba et al.'s standard
    dropout, which is right for that method and wrong for this one)."""
    a, dh, _ = _setup(5)
    p = {k: a[k] for k in ("Wx", "Wh", "b")}

    def variational(x):
        _, _, cache = variational_lstm_forward(x, a["h0"], a["c0"], p["Wx"], p["Wh"], p["b"],
                                               TRAIN)
        return variational_lstm_backward(dh, cache)[0]

    def per_step(x):
        dropped, (_, mask) = dropout_forward(x, TRAIN)
        _, _, cache = seq_forward("lstm", dropped, a["h0"], p, c0=a["c0"], need_cell=True)
        return seq_backward("lstm", dh, cache)["x"] * mask

    assert_variational(variational, a["x"])
    with pytest.raises(AssertionError, match="not variational"):
        assert_variational(per_step, a["x"])


def _char_batch(V, seed=0, n=2, t=6):
    rng = np.random.default_rng(seed)
    ids = rng.integers(V, size=(n, t + 1))
    return ids[:, :-1], ids[:, 1:]


@pytest.mark.parametrize("mode", ["none", "standard", "variational"])
def test_char_model_gradients(mode):
    V = 7
    model = DropoutCharLSTM(V, 5, num_layers=2, mode=mode, dropout=0.3, wordvec_dim=4,
                            dtype=np.float64, seed=1)
    x, y = _char_batch(V)
    state = {k: 0.3 * v for k, v in model.init_state(2).items()}
    state["h"] += 0.1
    state["c"] -= 0.2

    def loss(_):
        model.rng = np.random.default_rng(9)  # the same masks at every call
        return model.loss(x, y, h0=state)[0]

    model.rng = np.random.default_rng(9)
    _, grads, _ = model.loss(x, y, h0=state)
    for name, w in model.params.items():
        numeric = eval_numerical_gradient(loss, w, verbose=False)
        assert rel_norm_error(grads[name], numeric) < 1e-7, name


def test_no_dropout_is_the_char_rnn():
    """Mode 'none' draws CharRNN's weights and computes CharRNN's loss, state included."""
    V = 9
    x, y = _char_batch(V, seed=3, n=3, t=8)
    ours = DropoutCharLSTM(V, 6, num_layers=2, dtype=np.float64, seed=4)
    ref = CharRNN(V, 6, cell_type="lstm", num_layers=2, dtype=np.float64, seed=4,
                  fused=False)
    assert ours.params.keys() == ref.params.keys()
    state_a = state_b = None
    for _ in range(2):                      # the second chunk starts from the carried state
        la, ga, state_a = ours.loss(x, y, h0=state_a)
        lb, gb, state_b = ref.loss(x, y, h0=state_b)
        assert la == pytest.approx(lb, rel=1e-12)
        for k in ga:
            np.testing.assert_allclose(ga[k], gb[k], rtol=1e-9, atol=1e-12)
    for mode in ("standard", "variational"):   # no dropout in test mode: the same model
        other = DropoutCharLSTM(V, 6, num_layers=2, mode=mode, dropout=0.5,
                                dtype=np.float64, seed=4)
        assert other.eval_loss(x, y)[0] == pytest.approx(ours.eval_loss(x, y)[0], rel=1e-12)
        assert other.loss(x, y)[0] != pytest.approx(ours.loss(x, y)[0], rel=1e-6)


def test_experiment_smoke_and_replay(tmp_path):
    out = tmp_path / "d.json"
    res = experiment.run(str(out), log=lambda s: None, hidden=8, batch=4, seq=10, steps=4,
                         eval_every=2, train_chars=2_000, val_chars=1_000, record_first=3)
    saved = json.loads(out.read_text())
    assert set(saved["models"]) == set(experiment.MODELS) and "code" in saved
    for entry in saved["models"].values():
        assert [r["seed"] for r in entry["runs"]] == list(experiment.SEEDS)
        for row in entry["runs"]:
            assert row["curve"]["step"] == [2, 4] and len(row["first_losses"]) == 3
            assert row["best_step"] in (2, 4)
    assert res["data"]["train_chars_used"] <= 2_000
    checks = experiment.replay(saved)
    assert len(checks) == len(experiment.MODELS) * len(experiment.SEEDS)
    assert all(recorded == replayed for _, recorded, replayed in checks)
