"""Typical mistakes next to the reference's other functions: the step backward forgets the
output gate's peephole path into the new cell state (dao * Wp[2]); the sequence forward
starts its cell state at h0, which the sequence backward's test inherits. Both keep the
docstrings' cache layouts, which the reference's other functions read."""

import numpy as np

LOSES = {
    "test_peephole_lstm_step_backward": "own bug: no dao * Wp[2] term in the cell gradient",
    "test_peephole_lstm_forward": "own bug: c0 = h0 instead of zeros",
    "test_peephole_lstm_backward": "cascade: its test runs the wrong sequence forward",
}


def peephole_lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, next_c, tanh_c = cache
    dao = dnext_h * tanh_c * o * (1 - o)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)  # wrong: + dao * Wp[2] is missing
    dai = dc * g * i * (1 - i)
    daf = dc * prev_c * f * (1 - f)
    da = np.hstack([dai, daf, dao, dc * i * (1 - g ** 2)])
    dWp = np.stack([(dai * prev_c).sum(0), (daf * prev_c).sum(0), (dao * next_c).sum(0)])
    return (da @ Wx.T, da @ Wh.T, dc * f + dai * Wp[0] + daf * Wp[1], x.T @ da,
            prev_h.T @ da, da.sum(0), dWp)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    N, T, _ = x.shape
    H = h0.shape[1]
    xs = x.transpose(1, 0, 2)
    gates = np.empty((T, N, 4 * H))
    cs, tanh_cs, hs = (np.empty((T, N, H)) for _ in range(3))
    h, c = h0, h0  # wrong: the cell state starts at zero
    for t in range(T):
        a = xs[t] @ Wx + h @ Wh + b
        i, f = _sig(a[:, :H] + Wp[0] * c), _sig(a[:, H:2 * H] + Wp[1] * c)
        g = np.tanh(a[:, 3 * H:])
        c = f * c + i * g
        o = _sig(a[:, 2 * H:3 * H] + Wp[2] * c)
        h = o * np.tanh(c)
        gates[t] = np.hstack([i, f, o, g])
        cs[t], tanh_cs[t], hs[t] = c, np.tanh(c), h
    return hs.transpose(1, 0, 2), (xs, h0, Wx, Wh, Wp, gates, cs, tanh_cs, hs)
