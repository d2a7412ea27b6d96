"""The fused training path agrees with the graded layers: rnnlib.fused_lstm against CharRNN's
reference path (fused=False), optim.adam_inplace against optim.adam, and the Trainer's
in-place clipping and update against its copying one."""

import numpy as np
import pytest

from rnnlib.models import CharRNN
from rnnlib.optim import adam, adam_inplace
from rnnlib.training import Trainer

V, H, E = 11, 7, 6


def pair(layers, dropout, dtype=np.float64, seed=1):
    """A fused and a reference CharRNN with the same (non-trivial) parameters."""
    fused = CharRNN(V, H, "lstm", layers, dropout, dtype, seed=seed, wordvec_dim=E)
    ref = CharRNN(V, H, "lstm", layers, dropout, dtype, seed=seed, wordvec_dim=E, fused=False)
    assert fused.fused is not None and ref.fused is None
    rng = np.random.default_rng(seed + 100)
    for k, v in ref.params.items():
        ref.params[k] = (0.5 * rng.standard_normal(v.shape)).astype(dtype)
        fused.params[k] = ref.params[k].copy()
    return fused, ref


def batch(N, T, layers, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    h0 = {k: (0.5 * rng.standard_normal((layers, N, H))).astype(dtype) for k in ("h", "c")}
    return x, y, h0


def assert_same(got, want, rtol=1e-6):
    """Every array within rtol of the reference, relative to its largest entry."""
    assert set(got) == set(want)
    for k in want:
        scale = max(float(np.abs(want[k]).max()), 1e-12)
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=rtol * scale, err_msg=k)
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize(("layers", "dropout"), [(1, 0.0), (2, 0.3), (3, 0.5)])
def test_loss_state_and_gradients_match_the_layers(layers, dropout, mode):
    fused, ref = pair(layers, dropout)
    x, y, h0 = batch(3, 5, layers)
    loss, grads, state = fused.loss(x, y, h0=h0, mode=mode)
    loss_ref, grads_ref, state_ref = ref.loss(x, y, h0=h0, mode=mode)
    assert loss == pytest.approx(loss_ref, rel=1e-6)
    assert_same(grads, grads_ref)
    assert_same(state, state_ref)
    # The same dropout masks: both drew the same seeds from their generators.
    assert fused.rng.bit_generator.state == ref.rng.bit_generator.state
    assert fused.eval_loss(x, y, h0)[0] == pytest.approx(ref.eval_loss(x, y, h0)[0], rel=1e-6)


def test_float32_agrees_at_float32_precision():
    fused, ref = pair(2, 0.3, dtype=np.float32)
    x, y, h0 = batch(4, 6, 2, dtype=np.float32)
    loss, grads, state = fused.loss(x, y, h0=h0)
    loss_ref, grads_ref, state_ref = ref.loss(x, y, h0=h0)
    assert loss == pytest.approx(loss_ref, rel=1e-6)
    # float32 rounds every operation to 6e-8; the two paths sum in different orders.
    assert_same(grads, grads_ref, rtol=2e-6)
    assert_same(state, state_ref, rtol=2e-6)


def test_buffers_are_reused_across_shapes_and_gradients_stay_fresh():
    # A longer chunk, a shorter one (the validation's last chunk), another batch size, and
    # the longer chunk again: every call agrees with the reference, and the gradients an
    # earlier call returned are not overwritten by a later one.
    fused, ref = pair(2, 0.2)
    first = None
    for N, T in [(3, 6), (3, 2), (2, 4), (3, 6)]:
        x, y, h0 = batch(N, T, 2, seed=N * T)
        loss, grads, _ = fused.loss(x, y, h0=h0)
        loss_ref, grads_ref, _ = ref.loss(x, y, h0=h0)
        assert loss == pytest.approx(loss_ref, rel=1e-6)
        assert_same(grads, grads_ref)
        if first is None:
            first = grads, {k: v.copy() for k, v in grads.items()}
    for k, v in first[1].items():
        np.testing.assert_array_equal(first[0][k], v)


def test_truncated_bptt_chunks_carry_the_state():
    fused, ref = pair(2, 0.0)
    x, y, _ = batch(2, 8, 2, seed=5)
    state = state_ref = None
    for s in (0, 4):
        loss, _, state = fused.loss(x[:, s:s + 4], y[:, s:s + 4], h0=state)
        loss_ref, _, state_ref = ref.loss(x[:, s:s + 4], y[:, s:s + 4], h0=state_ref)
        assert loss == pytest.approx(loss_ref, rel=1e-6)
    assert_same(state, state_ref)


def test_other_cells_use_the_layers():
    for cell in ("rnn", "gru", "peephole"):
        assert CharRNN(V, H, cell).fused is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_inplace_matches_adam(dtype):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((70, 1000)).astype(dtype)  # more than one block of 32768
    w_ip, c, c_ip = w.copy(), {"learning_rate": 1e-2}, {"learning_rate": 1e-2}
    for _ in range(4):
        dw = rng.standard_normal(w.shape).astype(dtype)
        w, c = adam(w, dw, c)
        out, c_ip = adam_inplace(w_ip, dw, c_ip)
        assert out is w_ip  # updated in place
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(w_ip, w, rtol=0, atol=tol * np.abs(w).max())
    for k in ("m", "v"):
        np.testing.assert_allclose(c_ip[k], c[k], rtol=0, atol=tol * np.abs(c[k]).max())
        assert c_ip[k].dtype == dtype
    assert c_ip["t"] == c["t"] == 4


@pytest.mark.parametrize("clip", [0.05, 100.0])  # clipping every step, and never
def test_in_place_trainer_matches_the_copying_one(clip):
    def run(in_place):
        model, _ = pair(2, 0.3)
        x, y, _ = batch(3, 5, 2, seed=7)
        trainer = Trainer(model, lambda rng: (x, y), num_steps=4, update_rule="adam",
                          optim_config={"learning_rate": 1e-2}, clip_norm=clip,
                          in_place=in_place)
        trainer.run()
        return trainer, model.params

    (t_ip, p_ip), (t, p) = run(True), run(False)
    assert t_ip.update_rule is adam_inplace and t.update_rule is adam
    assert t_ip.update_rule_name == "adam"  # what checkpoints record
    np.testing.assert_allclose(t_ip.loss_history, t.loss_history, rtol=1e-12)
    np.testing.assert_allclose(t_ip.grad_norm_history, t.grad_norm_history, rtol=1e-12)
    assert_same(p_ip, p, rtol=1e-12)
    assert (max(t.grad_norm_history) > clip) == (clip < 1)
