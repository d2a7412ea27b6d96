"""Typical mistakes elsewhere: the step forward forgets the bias, which a CS231n-style
rnn_forward that calls it inherits (and so do the backward questions, whose tests run these
forward functions first); and rnn_backward's db is summed over the wrong axis."""

import numpy as np

LOSES = {
    "test_rnn_step_forward": "own bug: b missing",
    "test_rnn_step_backward": "cascade: its test runs the wrong rnn_step_forward",
    "test_rnn_forward": "cascade: rnn_forward calls the wrong rnn_step_forward",
    "test_rnn_backward": "own bug: db summed over the wrong axis (and the forward cascade)",
}


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh)  # wrong: + b is missing
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_forward(x, h0, Wx, Wh, b):
    hs, prev = [], h0
    for t in range(x.shape[1]):
        prev, _ = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        hs.append(prev)
    h = np.stack(hs, axis=1)
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(dh, cache):
    x, h0, Wx, Wh, h = cache
    N, T, _ = x.shape
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros((N, Wh.shape[0]))
    dnext = np.zeros_like(h0)
    for t in reversed(range(T)):
        da = (dh[:, t] + dnext) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += (h[:, t - 1] if t else h0).T @ da
        db += da  # wrong: db must sum over the batch too, it has shape (H,)
        dnext = da @ Wh.T
    return dx, dnext, dWx, dWh, db.sum(axis=1)
