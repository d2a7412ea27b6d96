"""Per-gate weight blocks taken with np.split, dict caches, the new state written as
n + z * (h - n), and a sequence backward written out without calling the step backward."""

import numpy as np


def _sig(a):
    return 0.5 * (np.tanh(a / 2) + 1)


def _fwd(x, h, Wx, Wh, b):
    Wxr, Wxz, Wxn = np.split(Wx, 3, axis=1)
    Whr, Whz, Whn = np.split(Wh, 3, axis=1)
    br, bz, bn = np.split(b, 3)
    r = _sig(x @ Wxr + h @ Whr + br)
    z = _sig(x @ Wxz + h @ Whz + bz)
    n = np.tanh(x @ Wxn + bn + (r * h) @ Whn)
    return n + z * (h - n), {"x": x, "h": h, "r": r, "z": z, "n": n}


def _bwd(g, k, Wx, Wh):
    r, z, n, h, x = k["r"], k["z"], k["n"], k["h"], k["x"]
    Whr, Whz, Whn = np.split(Wh, 3, axis=1)
    dan = g * (1 - z) * (1 - n * n)
    daz = g * (h - n) * z * (1 - z)
    drh = dan @ Whn.T
    dar = drh * h * r * (1 - r)
    da = np.concatenate([dar, daz, dan], axis=1)
    dh = g * z + drh * r + dar @ Whr.T + daz @ Whz.T
    dWh = np.concatenate([h.T @ dar, h.T @ daz, (r * h).T @ dan], axis=1)
    return da @ Wx.T, dh, x.T @ da, dWh, da.sum(axis=0)


def gru_step_forward(x, prev_h, Wx, Wh, b):
    h, k = _fwd(x, prev_h, Wx, Wh, b)
    k["W"] = (Wx, Wh)
    return h, k


def gru_step_backward(dnext_h, cache):
    return _bwd(dnext_h, cache, *cache["W"])


def gru_forward(x, h0, Wx, Wh, b):
    steps, h = [], h0
    for t in range(x.shape[1]):
        h, k = _fwd(x[:, t], h, Wx, Wh, b)
        steps.append(k)
    return np.stack([s["n"] + s["z"] * (s["h"] - s["n"]) for s in steps], axis=1), {
        "steps": steps, "Wx": Wx, "Wh": Wh}


def gru_backward(dh, cache):
    Wx, Wh, steps = cache["Wx"], cache["Wh"], cache["steps"]
    T = len(steps)
    dxs, g = [], np.zeros_like(steps[0]["h"])
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wx.shape[1], dtype=dh.dtype)
    for t in range(T - 1, -1, -1):
        dx, g, a, c, d = _bwd(dh[:, t] + g, steps[t], Wx, Wh)
        dxs.append(dx)
        dWx += a
        dWh += c
        db += d
    return np.stack(dxs[::-1], axis=1), g, dWx, dWh, db
