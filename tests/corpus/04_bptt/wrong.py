"""Typical mistakes: the global norm without its square root (the sum of squares
returned); clipping that rescales to max_norm even when the norm is below it; truncated BPTT
that also cuts the forward state (every chunk restarts from h0); and norms measured after
the step instead of before (off by one: norms[0] is not the norm of dlast)."""

import numpy as np

LOSES = {
    "test_global_norm": "own bug: sum of squares, no square root",
    "test_clip_by_global_norm": "own bug: rescales even below max_norm",
    "test_truncated_bptt": "own bug: each chunk restarts from h0",
    "test_gradient_norm_by_distance": "own bug: off by one (norm taken after each step)",
}


def global_norm(grads):
    return float(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads.values()))


def clip_by_global_norm(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads.values())))
    scale = max_norm / norm if np.isfinite(norm) else 1.0  # wrong: only when norm > max_norm
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, norm


def truncated_bptt(x, h0, Wx, Wh, b, dh, chunk):
    T = x.shape[1]
    hs, dWx, dWh, db = [], np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    for start in range(0, T, chunk):
        h_k, cache = rnn_forward(x[:, start:start + chunk], h0, Wx, Wh, b)  # wrong: h0
        _, _, gx, gh, gb = rnn_backward(dh[:, start:start + chunk].copy(), cache)
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
        hs.append(h_k)
    return np.concatenate(hs, axis=1), dWx, dWh, db


def gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast):
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[1]
    norms, g = np.empty(T, dtype=x.dtype), dlast
    for k in range(T):
        g = (g * (1 - h[:, T - 1 - k] ** 2)) @ Wh.T
        norms[k] = np.linalg.norm(g)  # wrong: the norm after the step, not before it
    return norms
