"""rnnlib.bptt (assignment 4): truncated BPTT against full BPTT, and gradient norms against
the dh0 of rnn_backward run from each intermediate state."""

import numpy as np
import pytest

from rnnlib.bptt import gradient_norm_by_distance, truncated_bptt
from rnnlib.layers import rnn_backward, rnn_forward


def _inputs(seed, N=2, T=7, D=3, H=4, scale=0.5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            rng.standard_normal((D, H)), scale * rng.standard_normal((H, H)),
            rng.standard_normal(H), rng.standard_normal((N, T, H)))


@pytest.mark.parametrize("chunk", [7, 8, 100])
def test_long_chunks_are_full_bptt(chunk):
    x, h0, Wx, Wh, b, dh = _inputs(0)
    h_full, cache = rnn_forward(x, h0, Wx, Wh, b)
    _, _, dWx, dWh, db = rnn_backward(dh, cache)
    h, tWx, tWh, tb = truncated_bptt(x, h0, Wx, Wh, b, dh, chunk)
    np.testing.assert_allclose(h, h_full, rtol=1e-13)
    for a, e in ((tWx, dWx), (tWh, dWh), (tb, db)):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_truncated_chunks_sum_their_own_gradients(chunk):
    x, h0, Wx, Wh, b, dh = _inputs(1)
    h_full, _ = rnn_forward(x, h0, Wx, Wh, b)
    h, tWx, tWh, tb = truncated_bptt(x, h0, Wx, Wh, b, dh, chunk)
    np.testing.assert_allclose(h, h_full, rtol=1e-13)  # the state is carried
    expected = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    T = x.shape[1]
    for start in range(0, T, chunk):
        prev = h0 if start == 0 else h_full[:, start - 1]
        _, cache = rnn_forward(x[:, start:start + chunk], prev, Wx, Wh, b)
        grads = rnn_backward(dh[:, start:start + chunk], cache)[2:]
        expected = [e + g for e, g in zip(expected, grads, strict=True)]
    for a, e in zip((tWx, tWh, tb), expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-13)
    _, _, full_dWh, _ = truncated_bptt(x, h0, Wx, Wh, b, dh, T)
    assert np.abs(tWh - full_dWh).max() > 1e-3  # truncation really cuts the gradient


def test_truncated_bptt_rejects_a_bad_chunk():
    x, h0, Wx, Wh, b, dh = _inputs(2)
    with pytest.raises(ValueError, match="chunk"):
        truncated_bptt(x, h0, Wx, Wh, b, dh, 0)


@pytest.mark.parametrize("scale", [0.3, 3.0])
def test_gradient_norms_match_rnn_backward(scale):
    x, h0, Wx, Wh, b, _ = _inputs(3, T=9, scale=scale)
    dlast = np.random.default_rng(4).standard_normal(h0.shape)
    norms = gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[1]
    assert norms.shape == (T,) and norms[0] == pytest.approx(np.linalg.norm(dlast))
    for k in range(1, T):
        t = T - 1 - k  # the gradient with respect to h[:, t]: run the rest from there
        _, cache = rnn_forward(x[:, t + 1:], h[:, t], Wx, Wh, b)
        dh = np.zeros((x.shape[0], k, h0.shape[1]))
        dh[:, -1] = dlast
        dh_t = rnn_backward(dh, cache)[1]
        assert norms[k] == pytest.approx(np.linalg.norm(dh_t), rel=1e-10)


def test_small_recurrent_weights_make_the_gradient_vanish():
    x, h0, Wx, Wh, b, _ = _inputs(5, T=40, scale=0.2)
    norms = gradient_norm_by_distance(x, h0, Wx, Wh, b, np.ones_like(h0))
    assert norms[-1] < 1e-10 * norms[0]
