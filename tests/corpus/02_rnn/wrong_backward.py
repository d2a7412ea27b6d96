"""Typical mistakes: the step backward forgets tanh' (it passes dnext_h straight through),
and CS231n's rnn_backward, which calls it, inherits the bug; rnn_forward stacks its states
time-major, (T, N, H) instead of (N, T, H) (a shape the message names)."""

import numpy as np

LOSES = {
    "test_rnn_step_backward": "own bug: tanh' missing",
    "test_rnn_forward": "own bug: h stacked time-major, (T, N, H)",
    "test_rnn_backward": "cascade: rnn_backward calls the wrong rnn_step_backward (and its "
                         "test runs the wrong rnn_forward)",
}


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h  # wrong: the derivative of tanh is missing
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    h, caches, prev = [], [], h0
    for t in range(x.shape[1]):
        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h.append(prev)
        caches.append(c)
    return np.stack(h, axis=0), caches  # wrong: axis=1 gives (N, T, H)


def rnn_backward(dh, cache):
    dx, dprev = [], np.zeros_like(cache[0][1])
    dWx, dWh = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3])
    db = np.zeros(dWh.shape[0], dtype=dh.dtype)
    for t in reversed(range(len(cache))):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dx.insert(0, dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev, dWx, dWh, db
