"""Typical mistakes: the update gate used the other way round (h = (1 - z) h + z n, PyTorch's
convention read backwards), which every later question's test inherits through the step
forward; and the step backward forgets the reset gate's path into dprev_h."""

import numpy as np

LOSES = {
    "test_gru_step_forward": "own bug: z and 1 - z swapped",
    "test_gru_step_backward": "own bug: no r * drh term in dprev_h (and the forward cascade)",
    "test_gru_forward": "cascade: it calls the wrong step forward",
    "test_gru_backward": "cascade: it calls the wrong step functions",
}


def _sig(a):
    return 1 / (1 + np.exp(-a))


def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + b
    r = _sig(a[:, :H] + prev_h @ Wh[:, :H])
    z = _sig(a[:, H:2 * H] + prev_h @ Wh[:, H:2 * H])
    rh = r * prev_h
    n = np.tanh(a[:, 2 * H:] + rh @ Wh[:, 2 * H:])
    return (1 - z) * prev_h + z * n, (x, prev_h, Wx, Wh, r, z, n, rh)  # wrong: z swapped


def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, rh = cache
    H = prev_h.shape[1]
    dan = dnext_h * (1 - z) * (1 - n ** 2)
    daz = dnext_h * (prev_h - n) * z * (1 - z)
    drh = dan @ Wh[:, 2 * H:].T
    dar = drh * prev_h * r * (1 - r)
    da = np.hstack([dar, daz, dan])
    dprev = dnext_h * z + da[:, :2 * H] @ Wh[:, :2 * H].T  # wrong: + drh * r is missing
    dWh = np.hstack([prev_h.T @ da[:, :2 * H], rh.T @ dan])
    return da @ Wx.T, dprev, x.T @ da, dWh, da.sum(0)


def gru_forward(x, h0, Wx, Wh, b):
    hs, caches, h = [], [], h0
    for t in range(x.shape[1]):
        h, c = gru_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, 1), caches


def gru_backward(dh, cache):
    N, T, H = dh.shape
    dx, g = [None] * T, np.zeros((N, H))
    dWx, dWh, db = 0, 0, 0
    for t in reversed(range(T)):
        dx[t], g, a, c, d = gru_step_backward(dh[:, t] + g, cache[t])
        dWx, dWh, db = dWx + a, dWh + c, db + d
    return np.stack(dx, 1), g, dWx, dWh, db
