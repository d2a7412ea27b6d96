"""In-place updates everywhere: the step backward overwrites its upstream gradient
(dnext_h *= 1 - next_h ** 2), the forward pass writes its states into one preallocated
array with out=, and the caches are dicts."""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = x @ Wx
    a += prev_h @ Wh
    a += b
    np.tanh(a, out=a)
    return a, {"x": x, "prev_h": prev_h, "Wx": Wx, "Wh": Wh, "h": a}


def rnn_step_backward(dnext_h, cache):
    dnext_h *= 1 - cache["h"] ** 2  # the upstream gradient, updated in place
    dx = dnext_h @ cache["Wx"].T
    dprev_h = dnext_h @ cache["Wh"].T
    dWx = cache["x"].T @ dnext_h
    dWh = cache["prev_h"].T @ dnext_h
    db = dnext_h.sum(0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    prev = h0
    for t in range(T):
        np.tanh(x[:, t] @ Wx + prev @ Wh + b, out=h[:, t])
        prev = h[:, t]
    return h, {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": h}


def rnn_backward(dh, cache):
    x, h, Wx, Wh = cache["x"], cache["h"], cache["Wx"], cache["Wh"]
    T = x.shape[1]
    dx = np.empty_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0], dh.dtype)
    carry = np.zeros_like(cache["h0"])
    for t in range(T - 1, -1, -1):
        carry += dh[:, t]
        carry *= 1 - h[:, t] ** 2
        prev = h[:, t - 1] if t else cache["h0"]
        dx[:, t] = carry @ Wx.T
        dWx += x[:, t].T @ carry
        dWh += prev.T @ carry
        db += carry.sum(0)
        carry = carry @ Wh.T
    return dx, carry, dWx, dWh, db
