"""lstm_forward_state / lstm_backward_state: the LSTM and peephole LSTM with a carried state."""

import numpy as np
import pytest

from rnnlib import layers as L
from rnntools.gradcheck import eval_numerical_gradient_array, rel_error


def _params(rng, N, T, D, H, peephole):
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, 4 * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, 4 * H)) / np.sqrt(H)
    b = 0.1 * rng.standard_normal(4 * H)
    Wp = 0.5 * rng.standard_normal((3, H)) if peephole else None
    return x, h0, c0, Wx, Wh, b, Wp


@pytest.mark.parametrize("peephole", [False, True])
def test_zero_c0_matches_the_graded_sequence_layers(peephole):
    rng = np.random.default_rng(0)
    x, h0, c0, Wx, Wh, b, Wp = _params(rng, 3, 4, 5, 6, peephole)
    c0 = np.zeros_like(c0)
    h, c_last, cache = L.lstm_forward_state(x, h0, c0, Wx, Wh, b, Wp)
    if peephole:
        h_ref, cache_ref = L.peephole_lstm_forward(x, h0, Wx, Wh, b, Wp)
    else:
        h_ref, cache_ref = L.lstm_forward(x, h0, Wx, Wh, b)
    np.testing.assert_array_equal(h, h_ref)
    dh = rng.standard_normal(h.shape)
    grads = L.lstm_backward_state(dh, cache)
    ref = (L.peephole_lstm_backward if peephole else L.lstm_backward)(dh, cache_ref)
    # Same gradients except dc0, which the graded layers do not return.
    for got, want in zip(grads[:2] + grads[3:], ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("peephole", [False, True])
def test_carried_state_matches_the_step_functions(peephole):
    rng = np.random.default_rng(1)
    x, h0, c0, Wx, Wh, b, Wp = _params(rng, 2, 5, 3, 4, peephole)
    h, c_last, _ = L.lstm_forward_state(x, h0, c0, Wx, Wh, b, Wp)
    prev_h, prev_c = h0, c0
    for t in range(x.shape[1]):
        if peephole:
            prev_h, prev_c, _ = L.peephole_lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b,
                                                             Wp)
        else:
            prev_h, prev_c, _ = L.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_last, prev_c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("peephole", [False, True])
def test_gradients_including_c0_and_c_last(peephole):
    rng = np.random.default_rng(2)
    inputs = [a for a in _params(rng, 2, 3, 4, 3, peephole) if a is not None]
    h, c_last, cache = L.lstm_forward_state(*inputs)
    dh = rng.standard_normal(h.shape)
    dc_last = rng.standard_normal(c_last.shape)
    grads = L.lstm_backward_state(dh, cache, dc_last)
    df = np.concatenate([dh.ravel(), dc_last.ravel()])

    def f(_):
        h, c, _ = L.lstm_forward_state(*inputs)
        return np.concatenate([h.ravel(), c.ravel()])

    for x, grad in zip(inputs, grads, strict=True):
        assert rel_error(eval_numerical_gradient_array(f, x, df), grad) < 1e-7


def test_bad_c0_is_named():
    rng = np.random.default_rng(3)
    x, h0, c0, Wx, Wh, b, _ = _params(rng, 2, 3, 4, 5, False)
    with pytest.raises(ValueError, match=r"^c0 must have shape \(N, H\) = \(2, 5\)"):
        L.lstm_forward_state(x, h0, c0[:, :4], Wx, Wh, b)


@pytest.mark.parametrize("peephole", [False, True])
def test_float32_stays_float32(peephole):
    rng = np.random.default_rng(4)
    args = [a.astype(np.float32) if a is not None else None
            for a in _params(rng, 2, 3, 4, 5, peephole)]
    h, c_last, cache = L.lstm_forward_state(*args)
    assert h.dtype == c_last.dtype == np.float32
    grads = L.lstm_backward_state(np.ones_like(h), cache, np.ones_like(c_last))
    assert all(g.dtype == np.float32 for g in grads)
    assert len(grads) == (7 if peephole else 6)
