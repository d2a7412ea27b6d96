"""CS231n's structure: tuple caches, sequence functions that loop over time calling the step
functions, and a step backward that accumulates into dprev_h with +=."""

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    ax = np.dot(x, Wx) + b
    r = _sigmoid(ax[:, :H] + np.dot(prev_h, Wh[:, :H]))
    z = _sigmoid(ax[:, H:2 * H] + np.dot(prev_h, Wh[:, H:2 * H]))
    n = np.tanh(ax[:, 2 * H:] + np.dot(r * prev_h, Wh[:, 2 * H:]))
    next_h = z * prev_h + (1 - z) * n
    cache = (x, prev_h, Wx, Wh, r, z, n)
    return next_h, cache


def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n = cache
    H = prev_h.shape[1]
    dn = dnext_h * (1 - z)
    dz = dnext_h * (prev_h - n)
    dprev_h = dnext_h * z
    dan = dn * (1 - n ** 2)
    drh = np.dot(dan, Wh[:, 2 * H:].T)
    dprev_h += drh * r
    dar = drh * prev_h * r * (1 - r)
    daz = dz * z * (1 - z)
    da = np.hstack((dar, daz, dan))
    dprev_h += np.dot(da[:, :2 * H], Wh[:, :2 * H].T)
    dWh = np.hstack((np.dot(prev_h.T, da[:, :2 * H]), np.dot((r * prev_h).T, dan)))
    return np.dot(da, Wx.T), dprev_h, np.dot(x.T, da), dWh, np.sum(da, axis=0)


def gru_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, c = gru_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(c)
    return h, cache


def gru_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx = np.zeros((D, 3 * H), dtype=dh.dtype)
    dWh = np.zeros((H, 3 * H), dtype=dh.dtype)
    db = np.zeros(3 * H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t, :] + dprev_h,
                                                                      cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
