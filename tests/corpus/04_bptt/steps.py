"""Step by step: truncated BPTT runs the paste cell's rnn_step_forward over all steps and
backpropagates each chunk with rnn_step_backward, cutting the carried gradient at a chunk's
first step; the norms of the gradient through time come from rnn_step_backward too. The
clipping functions loop over the dict."""

import math

import numpy as np


def global_norm(grads):
    total = 0.0
    for g in grads.values():
        total += float(np.sum(np.square(g, dtype=np.float64)))
    return math.sqrt(total)


def clip_by_global_norm(grads, max_norm):
    norm = global_norm(grads)
    scale = max_norm / norm if math.isfinite(norm) and norm > max_norm else 1.0
    clipped = {}
    for k, g in grads.items():
        clipped[k] = (g * g.dtype.type(scale)) if scale != 1.0 else g.copy()
    return clipped, norm


def truncated_bptt(x, h0, Wx, Wh, b, dh, chunk):
    N, T, _ = x.shape
    caches, hs, prev = [], [], h0
    for t in range(T):
        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        hs.append(prev)
        caches.append(c)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    for start in range(0, T, chunk):
        carry = np.zeros_like(h0)
        for t in reversed(range(start, min(start + chunk, T))):
            _, carry, gx, gh, gb = rnn_step_backward(dh[:, t] + carry, caches[t])
            dWx += gx
            dWh += gh
            db += gb
    return np.stack(hs, axis=1), dWx, dWh, db


def gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast):
    T = x.shape[1]
    caches, prev = [], h0
    for t in range(T):
        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        caches.append(c)
    norms, grad = [], dlast
    for t in reversed(range(T)):
        norms.append(np.linalg.norm(grad))
        grad = rnn_step_backward(grad, caches[t])[1]
    return np.array(norms, dtype=x.dtype)
