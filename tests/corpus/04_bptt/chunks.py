"""Chunks with rnn_forward and rnn_backward as CS231n students reuse them, slicing x and dh
with array_split; norms from an explicit Jacobian-vector product; clipping with a dict
comprehension and np.linalg.norm of the flattened arrays."""

import numpy as np


def global_norm(grads):
    flat = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads.values()])
    return float(np.linalg.norm(flat))


def clip_by_global_norm(grads, max_norm):
    norm = global_norm(grads)
    if not np.isfinite(norm):
        return dict(grads), norm
    factor = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: (v * factor).astype(v.dtype) for k, v in grads.items()}, norm


def truncated_bptt(x, h0, Wx, Wh, b, dh, chunk):
    T = x.shape[1]
    pieces = list(range(chunk, T, chunk))
    h_parts = []
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    start_h = h0
    for xs, dhs in zip(np.split(x, pieces, axis=1), np.split(dh, pieces, axis=1)):
        h_k, cache = rnn_forward(xs, start_h, Wx, Wh, b)
        grads = rnn_backward(dhs.copy(), cache)
        dWx, dWh, db = dWx + grads[2], dWh + grads[3], db + grads[4]
        h_parts.append(h_k)
        start_h = h_k[:, -1]
    return np.concatenate(h_parts, axis=1), dWx, dWh, db


def gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast):
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[1]
    norms = np.zeros(T, dtype=x.dtype)
    g = dlast.copy()
    for k in range(T):
        norms[k] = np.linalg.norm(g.ravel())
        t = T - 1 - k
        jac_t = 1.0 - h[:, t] ** 2
        g = np.einsum("nh,kh->nk", g * jac_t, Wh)
    return norms
