"""Named gate blocks: Wx, Wh and b cut into per-gate views once, a dict cache, and the
sequence written out in full (time-major lists) without calling the step functions."""

import numpy as np


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _blocks(W):
    H = W.shape[-1] // 4
    return {k: W[..., n * H:(n + 1) * H] for n, k in enumerate("ifog")}


def _step(x, h, c, Wx, Wh, b, Wp):
    wx, wh, bb = _blocks(Wx), _blocks(Wh), _blocks(b)
    pre = {k: x @ wx[k] + h @ wh[k] + bb[k] for k in "ifog"}
    i = _sig(pre["i"] + Wp[0] * c)
    f = _sig(pre["f"] + Wp[1] * c)
    g = np.tanh(pre["g"])
    c_new = f * c + i * g
    o = _sig(pre["o"] + Wp[2] * c_new)
    return o * np.tanh(c_new), c_new, {"i": i, "f": f, "o": o, "g": g}


def _step_back(dh, dc_in, x, h, c, c_new, gates, Wx, Wh, Wp):
    i, f, o, g = (gates[k] for k in "ifog")
    t = np.tanh(c_new)
    d_o = dh * t * o * (1 - o)
    dc = dc_in + dh * o * (1 - t * t) + d_o * Wp[2]
    d_i = dc * g * i * (1 - i)
    d_f = dc * c * f * (1 - f)
    d_g = dc * i * (1 - g * g)
    da = np.concatenate([d_i, d_f, d_o, d_g], axis=1)
    dWp = np.stack([(d_i * c).sum(0), (d_f * c).sum(0), (d_o * c_new).sum(0)])
    dc_prev = dc * f + d_i * Wp[0] + d_f * Wp[1]
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h.T @ da, da.sum(0), dWp


def peephole_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wp):
    h, c, gates = _step(x, prev_h, prev_c, Wx, Wh, b, Wp)
    return h, c, {"x": x, "h": prev_h, "c": prev_c, "c_new": c, "gates": gates,
                  "Wx": Wx, "Wh": Wh, "Wp": Wp}


def peephole_lstm_step_backward(dnext_h, dnext_c, cache):
    k = cache
    return _step_back(dnext_h, dnext_c, k["x"], k["h"], k["c"], k["c_new"], k["gates"],
                      k["Wx"], k["Wh"], k["Wp"])


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    hs, cs, gates = [h0], [np.zeros_like(h0)], []
    for t in range(x.shape[1]):
        h, c, gt = _step(x[:, t], hs[-1], cs[-1], Wx, Wh, b, Wp)
        hs.append(h)
        cs.append(c)
        gates.append(gt)
    return np.stack(hs[1:], 1), {"x": x, "hs": hs, "cs": cs, "gates": gates, "W": (Wx, Wh, Wp)}


def peephole_lstm_backward(dh, cache):
    x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
    Wx, Wh, Wp = cache["W"]
    T = x.shape[1]
    dx = [None] * T
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1], dh.dtype),
            np.zeros_like(Wp)]
    gh, gc = np.zeros_like(hs[0]), np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dx[t], gh, gc, dWx, dWh, db, dWp = _step_back(
            dh[:, t] + gh, gc, x[:, t], hs[t], cs[t], cs[t + 1], gates[t], Wx, Wh, Wp)
        for s, d in zip(sums, (dWx, dWh, db, dWp)):
            s += d
    return (np.stack(dx, 1), gh, *sums[:3], sums[3])
