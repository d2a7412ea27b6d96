"""Gates split with np.split and kept in a dict cache, the sigmoid written through tanh,
the sequence forward vectorising the input projection over all steps and keeping
time-major lists, the backward written out without calling the step backward."""

import numpy as np


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn=None, Wattn=None):
    pre = x @ Wx + prev_h @ Wh + b
    if attn is not None:
        pre = pre + attn @ Wattn
    ai, af, ao, ag = np.split(pre, 4, axis=1)
    gates = {"i": _sig(ai), "f": _sig(af), "o": _sig(ao), "g": np.tanh(ag)}
    c = gates["f"] * prev_c + gates["i"] * gates["g"]
    h = gates["o"] * np.tanh(c)
    return h, c, {"x": x, "h": prev_h, "c": prev_c, "c_new": c, "W": (Wx, Wh, Wattn),
                  "attn": attn, **gates}


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g = cache["i"], cache["f"], cache["o"], cache["g"]
    Wx, Wh, Wattn = cache["W"]
    tc = np.tanh(cache["c_new"])
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    da = np.concatenate([dc * g * i * (1 - i), dc * cache["c"] * f * (1 - f),
                         dnext_h * tc * o * (1 - o), dc * i * (1 - g * g)], axis=1)
    out = (da @ Wx.T, da @ Wh.T, dc * f, cache["x"].T @ da, cache["h"].T @ da, da.sum(0))
    if cache["attn"] is not None:
        out += (da @ Wattn.T, cache["attn"].T @ da)
    return out


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    proj = (x.reshape(N * T, D) @ Wx).reshape(N, T, -1) + b
    hs, cs, gs = [h0], [np.zeros_like(h0)], []
    for t in range(T):
        ai, af, ao, ag = np.split(proj[:, t] + hs[-1] @ Wh, 4, axis=1)
        i, f, o, g = _sig(ai), _sig(af), _sig(ao), np.tanh(ag)
        cs.append(f * cs[-1] + i * g)
        hs.append(o * np.tanh(cs[-1]))
        gs.append((i, f, o, g))
    return np.stack(hs[1:], axis=1), {"x": x, "Wx": Wx, "Wh": Wh, "hs": hs, "cs": cs, "gs": gs}


def lstm_backward(dh, cache):
    x, Wx, Wh, hs, cs, gs = (cache[k] for k in ("x", "Wx", "Wh", "hs", "cs", "gs"))
    T = x.shape[1]
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wx.shape[1], dtype=dh.dtype)
    gh, gc = np.zeros_like(hs[0]), np.zeros_like(hs[0])
    for t in range(T - 1, -1, -1):
        i, f, o, g = gs[t]
        tc = np.tanh(cs[t + 1])
        dht = dh[:, t] + gh
        dct = gc + dht * o * (1 - tc ** 2)
        da = np.concatenate([dct * g * i * (1 - i), dct * cs[t] * f * (1 - f),
                             dht * tc * o * (1 - o), dct * i * (1 - g ** 2)], axis=1)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += hs[t].T @ da
        db += da.sum(axis=0)
        gh, gc = da @ Wh.T, dct * f
    return dx, gh, dWx, dWh, db
