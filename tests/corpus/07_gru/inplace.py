"""In-place updates and preallocation: the step backward scales its upstream gradient in
place (dnext_h *= ...) after taking what it needs, states written into preallocated
(N, T, H) arrays, and a list-of-lists cache."""

import numpy as np


def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx
    a += b
    a[:, :2 * H] += prev_h @ Wh[:, :2 * H]
    rz = 1 / (1 + np.exp(-a[:, :2 * H]))
    r, z = rz[:, :H], rz[:, H:]
    rh = r * prev_h
    a[:, 2 * H:] += rh @ Wh[:, 2 * H:]
    n = np.tanh(a[:, 2 * H:])
    out = prev_h - n
    out *= z
    out += n
    return out, [x, prev_h, Wx, Wh, r, z, n, rh]


def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, rh = cache
    H = prev_h.shape[1]
    daz = dnext_h * (prev_h - n) * z * (1 - z)
    dprev = dnext_h * z
    dnext_h *= 1 - z            # in place: now the gradient of n
    dnext_h *= 1 - n ** 2       # in place: of n's pre-activation
    dan = dnext_h
    drh = dan @ Wh[:, 2 * H:].T
    dar = drh * prev_h * r * (1 - r)
    drz = np.concatenate([dar, daz], axis=1)
    dprev += drh * r
    dprev += drz @ Wh[:, :2 * H].T
    da = np.concatenate([drz, dan], axis=1)
    dWh = np.empty_like(Wh)
    dWh[:, :2 * H] = prev_h.T @ drz
    dWh[:, 2 * H:] = rh.T @ dan
    return da @ Wx.T, dprev, x.T @ da, dWh, da.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    caches, prev = [], h0
    for t in range(T):
        h[:, t], c = gru_step_forward(x[:, t], prev, Wx, Wh, b)
        prev = h[:, t]
        caches.append(c)
    return h, caches


def gru_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache[0][0].shape[1]), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3])
    db = np.zeros(3 * H, dtype=dh.dtype)
    carry = np.zeros((N, H), dtype=dh.dtype)
    for t in range(T - 1, -1, -1):
        carry = carry + dh[:, t]
        dx[:, t], carry, gx, gh, gb = gru_step_backward(carry, cache[t])
        dWx += gx
        dWh += gh
        db += gb
    return dx, carry, dWx, dWh, db
