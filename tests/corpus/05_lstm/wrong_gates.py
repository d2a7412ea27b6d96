"""Typical mistakes: the step forward reads the gate blocks in the order i, f, g, o (the
order of some papers, not CS231n's i, f, o, g), which the step backward's test inherits;
and lstm_backward takes h_t where h_{t-1} belongs in dWh (an off-by-one in time)."""

import numpy as np

LOSES = {
    "test_lstm_step_forward": "own bug: gate blocks read as i, f, g, o",
    "test_lstm_step_backward": "cascade: its test runs the wrong step forward",
    "test_lstm_backward": "own bug: dWh uses h_t instead of h_{t-1}",
}


def _sig(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn=None, Wattn=None):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    if attn is not None:
        a = a + attn @ Wattn
    i, f = _sig(a[:, :H]), _sig(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])  # wrong: o is block 3, g block 4
    c = f * prev_c + i * g
    return o * np.tanh(c), c, (x, prev_h, prev_c, Wx, Wh, attn, Wattn, i, f, o, g, c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, attn, Wattn, i, f, o, g, c = cache
    tc = np.tanh(c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                    dc * i * (1 - g ** 2), dnext_h * tc * o * (1 - o)])
    grads = (da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(0))
    return grads if attn is None else grads + (da @ Wattn.T, attn.T @ da)


def lstm_backward(dh, cache):
    xs, h0, Wx, Wh, gates, cs, tanh_cs, hs = cache
    T, N, H = hs.shape
    dx = np.empty((N, T, xs.shape[2]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dtype=dh.dtype)
    gh, gc = np.zeros((N, H), dh.dtype), np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        i, f, o, g = np.split(gates[t], 4, axis=1)
        prev_c = cs[t - 1] if t else np.zeros_like(h0)
        dht = dh[:, t] + gh
        dct = gc + dht * o * (1 - tanh_cs[t] ** 2)
        da = np.hstack([dct * g * i * (1 - i), dct * prev_c * f * (1 - f),
                        dht * tanh_cs[t] * o * (1 - o), dct * i * (1 - g ** 2)])
        dx[:, t] = da @ Wx.T
        dWx += xs[t].T @ da
        dWh += hs[t].T @ da  # wrong: the state that entered step t is hs[t - 1] (or h0)
        db += da.sum(0)
        gh, gc = da @ Wh.T, dct * f
    return dx, gh, dWx, dWh, db
