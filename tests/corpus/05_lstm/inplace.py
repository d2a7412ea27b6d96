"""Preallocated arrays and in-place arithmetic: gates computed into one (N, 4H) buffer with
out=, the step backward overwriting both upstream gradients (dnext_h *= ..., dnext_c += ...),
and the sequence functions calling the step functions with caches kept in a list."""

import numpy as np


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn=None, Wattn=None):
    H = prev_h.shape[1]
    a = x @ Wx
    a += prev_h @ Wh
    a += b
    if attn is not None:
        a += attn @ Wattn
    np.negative(a[:, :3 * H], out=a[:, :3 * H])
    np.exp(a[:, :3 * H], out=a[:, :3 * H])
    a[:, :3 * H] += 1
    np.reciprocal(a[:, :3 * H], out=a[:, :3 * H])
    np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
    i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    c = f * prev_c
    c += i * g
    tc = np.tanh(c)
    return o * tc, c, [x, prev_h, prev_c, Wx, Wh, attn, Wattn, a, tc]


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, attn, Wattn, a, tc = cache
    H = prev_h.shape[1]
    i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    do = dnext_h * tc
    dnext_h *= o                 # in place: dnext_h now holds the gradient of tanh(c)
    dnext_h *= 1 - tc ** 2
    dnext_c += dnext_h           # in place: the cell gradient, both paths
    da = np.empty_like(a)
    np.multiply(dnext_c * g, i * (1 - i), out=da[:, :H])
    np.multiply(dnext_c * prev_c, f * (1 - f), out=da[:, H:2 * H])
    np.multiply(do, o * (1 - o), out=da[:, 2 * H:3 * H])
    np.multiply(dnext_c * i, 1 - g ** 2, out=da[:, 3 * H:])
    grads = (da @ Wx.T, da @ Wh.T, dnext_c * f, x.T @ da, prev_h.T @ da, da.sum(axis=0))
    if attn is None:
        return grads
    return grads + (da @ Wattn.T, attn.T @ da)


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    caches, prev_h, prev_c = [], h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache[0][0].shape[1]), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4])
    db = np.zeros(4 * H, dtype=dh.dtype)
    gh, gc = np.zeros((N, H), dh.dtype), np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        dx[:, t], gh, gc, a, b_, c = lstm_step_backward(dh[:, t] + gh, gc, cache[t])
        dWx += a
        dWh += b_
        db += c
    return dx, gh, dWx, dWh, db
