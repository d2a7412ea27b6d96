"""Typical mistakes in the sequence functions (the step functions are the reference's):
gru_forward feeds h0 to every step instead of the previous state, and gru_backward drops the
gradient carried from later steps (each step gets only dh[:, t])."""

import numpy as np

LOSES = {
    "test_gru_forward": "own bug: every step starts from h0",
    "test_gru_backward": "own bug: the carried gradient dropped (and the forward cascade)",
}


def gru_forward(x, h0, Wx, Wh, b):
    hs, caches = [], []
    for t in range(x.shape[1]):
        h, c = gru_step_forward(x[:, t], h0, Wx, Wh, b)  # wrong: h0 instead of the last h
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches


def gru_backward(dh, cache):
    N, T, H = dh.shape
    dxs, dWx, dWh, db, dprev = [], 0, 0, 0, np.zeros((N, H))
    for t in reversed(range(T)):
        dx, dprev, gx, gh, gb = gru_step_backward(dh[:, t].copy(), cache[t])  # wrong: + dprev
        dxs.insert(0, dx)
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return np.stack(dxs, axis=1), dprev, dWx, dWh, db
