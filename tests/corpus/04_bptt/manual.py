"""Everything written out without the paste cell's functions: one forward loop over time
that keeps the pre-activations, a reversed loop per chunk with the gradient reset at the
chunk's first step, and norms from dh_{t-1} = (dh_t * (1 - h_t^2)) Wh^T with float64 sums."""

import numpy as np


def global_norm(grads):
    return float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values())))


def clip_by_global_norm(grads, max_norm):
    n = global_norm(grads)
    out = {}
    for name, g in grads.items():
        out[name] = g.copy()
        if np.isfinite(n) and n > max_norm:
            out[name] *= max_norm / n
    return out, n


def truncated_bptt(x, h0, Wx, Wh, b, dh, chunk):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), dtype=x.dtype)
    prev = h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h[:, t] = prev
    dWx, dWh, db = 0 * Wx, 0 * Wh, 0 * b
    starts = list(range(0, T, chunk))
    for start in starts:
        stop = min(start + chunk, T)
        g = np.zeros((N, H), dtype=x.dtype)
        for t in range(stop - 1, start - 1, -1):
            da = (dh[:, t] + g) * (1 - h[:, t] ** 2)
            before = h[:, t - 1] if t > 0 else h0
            dWx += x[:, t].T @ da
            dWh += before.T @ da
            db += da.sum(axis=0)
            g = da @ Wh.T
    return h, dWx, dWh, db


def gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast):
    T = x.shape[1]
    states, prev = [], h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        states.append(prev)
    out, g = [], dlast
    for h_t in states[::-1]:
        out.append(np.sqrt(np.sum(g * g)))
        g = (g * (1 - h_t * h_t)) @ Wh.T
    return np.asarray(out, dtype=x.dtype)
