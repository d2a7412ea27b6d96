"""Written with einsum and time-major stacks: the states are kept as a Python list of
(N, H) arrays, the backward pass builds a list of per-step gradients and stacks it at the
end; the cache is a namedtuple-like plain class."""

import numpy as np


class _Saved:
    def __init__(self, **values):
        self.__dict__.update(values)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    pre = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b
    out = np.tanh(pre)
    return out, _Saved(x=x, h_prev=prev_h, Wx=Wx, Wh=Wh, out=out)


def rnn_step_backward(dnext_h, cache):
    g = dnext_h * (1.0 - np.square(cache.out))
    return (np.einsum("nh,dh->nd", g, cache.Wx), np.einsum("nh,kh->nk", g, cache.Wh),
            np.einsum("nd,nh->dh", cache.x, g), np.einsum("nk,nh->kh", cache.h_prev, g),
            np.einsum("nh->h", g))


def rnn_forward(x, h0, Wx, Wh, b):
    states = [h0]
    for t in range(x.shape[1]):
        states.append(np.tanh(np.einsum("nd,dh->nh", x[:, t], Wx)
                              + np.einsum("nk,kh->nh", states[-1], Wh) + b))
    h = np.stack(states[1:], axis=1)
    return h, _Saved(x=x, states=states, Wx=Wx, Wh=Wh)


def rnn_backward(dh, cache):
    T = dh.shape[1]
    dWx, dWh = np.zeros_like(cache.Wx), np.zeros_like(cache.Wh)
    db = np.zeros(cache.Wh.shape[0], dtype=dh.dtype)
    dxs = [None] * T
    back = np.zeros_like(cache.states[0])
    for t in reversed(range(T)):
        g = (dh[:, t] + back) * (1.0 - np.square(cache.states[t + 1]))
        dxs[t] = np.einsum("nh,dh->nd", g, cache.Wx)
        dWx += np.einsum("nd,nh->dh", cache.x[:, t], g)
        dWh += np.einsum("nk,nh->kh", cache.states[t], g)
        db += g.sum(axis=0)
        back = np.einsum("nh,kh->nk", g, cache.Wh)
    return np.stack(dxs, axis=1), back, dWx, dWh, db
