"""Typical mistakes: the step backward forgets the dnext_c path (the cell gradient is only
the one through next_h), which a CS231n-style lstm_backward that calls it inherits; and
lstm_forward starts its cell state from h0 instead of zeros."""

import numpy as np

LOSES = {
    "test_lstm_step_backward": "own bug: dnext_c path forgotten",
    "test_lstm_forward": "own bug: c0 = h0 instead of zeros",
    "test_lstm_backward": "cascade: lstm_backward calls the wrong lstm_step_backward "
                          "(and runs the wrong lstm_forward)",
}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tc, attn, Wattn = cache
    dc = dnext_h * o * (1 - tc ** 2)  # wrong: + dnext_c is missing
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                    dnext_h * tc * o * (1 - o), dc * i * (1 - g ** 2)])
    grads = (da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(0))
    return grads if attn is None else grads + (da @ Wattn.T, attn.T @ da)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn=None, Wattn=None):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b + (0 if attn is None else attn @ Wattn)
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    return o * tc, c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tc, attn, Wattn)


def lstm_forward(x, h0, Wx, Wh, b):
    hs, caches, h, c = [], [], h0, h0.copy()  # wrong: the cell state starts at zero
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx, gh, gc = [], np.zeros((N, H)), np.zeros((N, H))
    dWx, dWh, db = 0, 0, 0
    for t in reversed(range(T)):
        dx_t, gh, gc, a, b_, c = lstm_step_backward(dh[:, t] + gh, gc, cache[t])
        dx.insert(0, dx_t)
        dWx, dWh, db = dWx + a, dWh + b_, db + c
    return np.stack(dx, axis=1), gh, dWx, dWh, db
