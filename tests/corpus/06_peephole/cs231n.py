"""CS231n's structure carried over to peepholes: tuple caches, the step backward adding into
its upstream cell gradient in place, and sequence functions that loop over time and call
the step functions."""

import numpy as np


def _sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def peephole_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wp):
    H = prev_h.shape[1]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    i = _sigmoid(a[:, :H] + Wp[0] * prev_c)
    f = _sigmoid(a[:, H:2 * H] + Wp[1] * prev_c)
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    o = _sigmoid(a[:, 2 * H:3 * H] + Wp[2] * next_c)
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, next_c, tanh_c)


def peephole_lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, next_c, tanh_c = cache
    dao = dnext_h * tanh_c * o * (1 - o)
    dnext_c += dnext_h * o * (1 - tanh_c ** 2) + dao * Wp[2]  # in place
    dai = dnext_c * g * i * (1 - i)
    daf = dnext_c * prev_c * f * (1 - f)
    dag = dnext_c * i * (1 - g ** 2)
    da = np.hstack((dai, daf, dao, dag))
    dprev_c = dnext_c * f + dai * Wp[0] + daf * Wp[1]
    dWp = np.vstack((np.sum(dai * prev_c, axis=0), np.sum(daf * prev_c, axis=0),
                     np.sum(dao * next_c, axis=0)))
    return (np.dot(da, Wx.T), np.dot(da, Wh.T), dprev_c, np.dot(x.T, da), np.dot(prev_h.T, da),
            np.sum(da, axis=0), dWp)


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    cache = []
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, c = peephole_lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b, Wp)
        h[:, t, :] = prev_h
        cache.append(c)
    return h, cache


def peephole_lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]), dtype=dh.dtype)
    dWx = np.zeros_like(cache[0][3])
    dWh = np.zeros_like(cache[0][4])
    dWp = np.zeros_like(cache[0][5])
    db = np.zeros(4 * H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    dprev_c = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t, dWp_t = peephole_lstm_step_backward(
            dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
        dWp += dWp_t
    return dx, dprev_h, dWx, dWh, db, dWp
