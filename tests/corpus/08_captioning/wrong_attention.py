"""Typical mistakes in the attention LSTM: the attention backward forgets the softmax
Jacobian's subtracted term (dscores = w * dw), which the reference attention_lstm_backward,
calling it, inherits; attention_lstm_forward starts the cell state at zeros instead of the
grid's mean (its backward's test runs it); and attention_lstm_backward forgets the paths
through h0 and c0 into dA."""

import numpy as np

LOSES = {
    "test_dot_product_attention_backward": "own bug: softmax Jacobian without its mean term",
    "test_attention_lstm_forward": "own bug: c0 = 0 instead of the mean of A",
    "test_attention_lstm_backward": "own bug: no h0 / c0 path into dA (and the cascades of "
                                    "the two bugs above)",
}


def dot_product_attention_backward(dattn, cache):
    prev_h, A, weights = cache
    N, H, P, _ = A.shape
    G = A.reshape(N, H, P * P)
    w = weights.reshape(N, P * P)
    dw = np.einsum("nh,nhl->nl", dattn, G)
    ds = w * dw / np.sqrt(H)  # wrong: w * (dw - sum(w * dw)) / sqrt(H)
    dA = np.einsum("nh,nl->nhl", dattn, w) + np.einsum("nh,nl->nhl", prev_h, ds)
    return np.einsum("nl,nhl->nh", ds, G), dA.reshape(A.shape)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def attention_lstm_forward(x, A, Wx, Wh, Wattn, b):
    N, T, _ = x.shape
    H = A.shape[1]
    h, c = A.mean(axis=(2, 3)), np.zeros((N, H), dtype=x.dtype)  # wrong: c0 is the mean too
    hs, steps = [], []
    for t in range(T):
        attn, _, ac = dot_product_attention_forward(h, A)
        a = x[:, t] @ Wx + h @ Wh + attn @ Wattn + b
        i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), \
            np.tanh(a[:, 3 * H:])
        c_new = f * c + i * g
        steps.append((x[:, t], h, c, attn, ac, i, f, o, g, c_new))
        h, c = o * np.tanh(c_new), c_new
        hs.append(h)
    return np.stack(hs, axis=1), (steps, Wx, Wh, Wattn, A)


def attention_lstm_backward(dh, cache):
    steps, Wx, Wh, Wattn, A = cache
    N, T, H = dh.shape
    dx = np.empty((N, T, Wx.shape[0]), dtype=dh.dtype)
    dA = np.zeros_like(A)
    dWx, dWh, dWattn = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wattn)
    db = np.zeros(4 * H, dtype=dh.dtype)
    gh, gc = np.zeros((N, H), dh.dtype), np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        xt, h, c, attn, ac, i, f, o, g, cn = steps[t]
        tc = np.tanh(cn)
        dht = dh[:, t] + gh
        dct = gc + dht * o * (1 - tc ** 2)
        da = np.hstack([dct * g * i * (1 - i), dct * c * f * (1 - f),
                        dht * tc * o * (1 - o), dct * i * (1 - g ** 2)])
        dx[:, t] = da @ Wx.T
        dWx += xt.T @ da
        dWh += h.T @ da
        dWattn += attn.T @ da
        db += da.sum(0)
        dph, dAt = dot_product_attention_backward(da @ Wattn.T, ac)
        dA += dAt
        gh, gc = da @ Wh.T + dph, dct * f
    return dx, dA, dWx, dWh, dWattn, db  # wrong: gh and gc, through h0 = c0 = mean(A), lost
