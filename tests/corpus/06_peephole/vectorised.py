"""Vectorised over time where it can be: the input projection of all steps at once with
tensordot, gates kept in (T, N, 4H) arrays, the weight gradients summed after the loop with
einsum over all steps, and the step backward copies its inputs before updating them."""

import numpy as np


def _sig(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def peephole_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wp):
    H = Wh.shape[0]
    a = x @ Wx + prev_h @ Wh + b
    i = _sig(a[:, :H] + prev_c * Wp[0])
    f = _sig(a[:, H:2 * H] + prev_c * Wp[1])
    g = np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    o = _sig(a[:, 2 * H:3 * H] + c * Wp[2])
    return o * np.tanh(c), c, (np.stack([i, f, o, g]), x, prev_h, prev_c, c, Wx, Wh, Wp)


def peephole_lstm_step_backward(dnext_h, dnext_c, cache):
    (i, f, o, g), x, prev_h, prev_c, c, Wx, Wh, Wp = cache
    dc = np.array(dnext_c, copy=True)
    tc = np.tanh(c)
    dao = dnext_h * tc * o * (1 - o)
    dc += dnext_h * o * (1 - tc ** 2) + dao * Wp[2]
    dai, daf, dag = dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g ** 2)
    da = np.concatenate([dai, daf, dao, dag], axis=-1)
    dWp = np.array([np.einsum("nh,nh->h", dai, prev_c), np.einsum("nh,nh->h", daf, prev_c),
                    np.einsum("nh,nh->h", dao, c)])
    return (da @ Wx.T, da @ Wh.T, dc * f + dai * Wp[0] + daf * Wp[1], x.T @ da,
            prev_h.T @ da, da.sum(axis=0), dWp)


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    N, T, D = x.shape
    H = h0.shape[1]
    proj = np.tensordot(x, Wx, axes=([2], [0])).transpose(1, 0, 2) + b
    G = np.empty((T, N, 4 * H), dtype=x.dtype)
    cs = np.empty((T + 1, N, H), dtype=x.dtype)
    hs = np.empty((T + 1, N, H), dtype=x.dtype)
    cs[0], hs[0] = 0, h0
    for t in range(T):
        a = proj[t] + hs[t] @ Wh
        G[t, :, :H] = _sig(a[:, :H] + cs[t] * Wp[0])
        G[t, :, H:2 * H] = _sig(a[:, H:2 * H] + cs[t] * Wp[1])
        G[t, :, 3 * H:] = np.tanh(a[:, 3 * H:])
        cs[t + 1] = G[t, :, H:2 * H] * cs[t] + G[t, :, :H] * G[t, :, 3 * H:]
        G[t, :, 2 * H:3 * H] = _sig(a[:, 2 * H:3 * H] + cs[t + 1] * Wp[2])
        hs[t + 1] = G[t, :, 2 * H:3 * H] * np.tanh(cs[t + 1])
    return hs[1:].transpose(1, 0, 2).copy(), (x, Wx, Wh, Wp, G, cs, hs)


def peephole_lstm_backward(dh, cache):
    x, Wx, Wh, Wp, G, cs, hs = cache
    T, N, H4 = G.shape
    H = H4 // 4
    dA = np.empty_like(G)
    gh, gc = np.zeros((N, H), dh.dtype), np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        i, f, o, g = G[t, :, :H], G[t, :, H:2 * H], G[t, :, 2 * H:3 * H], G[t, :, 3 * H:]
        dht = dh[:, t] + gh
        tc = np.tanh(cs[t + 1])
        dao = dht * tc * o * (1 - o)
        dc = gc + dht * o * (1 - tc ** 2) + dao * Wp[2]
        dai, daf = dc * g * i * (1 - i), dc * cs[t] * f * (1 - f)
        dA[t] = np.concatenate([dai, daf, dao, dc * i * (1 - g ** 2)], axis=1)
        gh = dA[t] @ Wh.T
        gc = dc * f + dai * Wp[0] + daf * Wp[1]
    dx = np.einsum("tnk,dk->ntd", dA, Wx)
    dWx = np.einsum("ntd,tnk->dk", x, dA)
    dWh = np.einsum("tnh,tnk->hk", hs[:-1], dA)
    dWp = np.stack([np.einsum("tnh,tnh->h", dA[:, :, :H], cs[:-1]),
                    np.einsum("tnh,tnh->h", dA[:, :, H:2 * H], cs[:-1]),
                    np.einsum("tnh,tnh->h", dA[:, :, 2 * H:3 * H], cs[1:])])
    return dx, gh, dWx, dWh, dA.sum(axis=(0, 1)), dWp
