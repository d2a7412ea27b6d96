"""Typical mistakes: the output gate peeks at the previous cell state instead of the new one
(a step forward bug that every later question inherits, since their tests run it), and the
sequence backward forgets the peephole's path into the previous cell state."""

import numpy as np

LOSES = {
    "test_peephole_lstm_step_forward": "own bug: o peeks at prev_c, not next_c",
    "test_peephole_lstm_step_backward": "cascade: its test runs the wrong step forward",
    "test_peephole_lstm_forward": "cascade: it calls the wrong step forward",
    "test_peephole_lstm_backward": "cascade and own bug: no peephole path into dprev_c",
}


def _sig(z):
    return 1 / (1 + np.exp(-z))


def peephole_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wp):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = _sig(a[:, :H] + Wp[0] * prev_c)
    f = _sig(a[:, H:2 * H] + Wp[1] * prev_c)
    o = _sig(a[:, 2 * H:3 * H] + Wp[2] * prev_c)  # wrong: o peeks at the new cell state
    g = np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    return o * np.tanh(c), c, (x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, c, np.tanh(c))


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    hs, caches, h, c = [], [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        h, c, k = peephole_lstm_step_forward(x[:, t], h, c, Wx, Wh, b, Wp)
        hs.append(h)
        caches.append(k)
    return np.stack(hs, 1), caches


def peephole_lstm_backward(dh, cache):
    N, T, H = dh.shape
    x0, _, _, Wx, Wh, Wp = cache[0][:6]
    dx = np.zeros((N, T, x0.shape[1]))
    dWx, dWh, db, dWp = 0 * Wx, 0 * Wh, np.zeros(4 * H), 0 * Wp
    gh, gc = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        x, h, c, _, _, _, i, f, o, g, cn, tc = cache[t]
        dht = dh[:, t] + gh
        dao = dht * tc * o * (1 - o)
        dc = gc + dht * o * (1 - tc ** 2) + dao * Wp[2]
        dai, daf = dc * g * i * (1 - i), dc * c * f * (1 - f)
        da = np.hstack([dai, daf, dao, dc * i * (1 - g ** 2)])
        dx[:, t] = da @ Wx.T
        dWx, dWh, db = dWx + x.T @ da, dWh + h.T @ da, db + da.sum(0)
        dWp = dWp + np.stack([(dai * c).sum(0), (daf * c).sum(0), (dao * cn).sum(0)])
        gh, gc = da @ Wh.T, dc * f  # wrong: + dai * Wp[0] + daf * Wp[1] is missing
    return dx, gh, dWx, dWh, db, dWp
