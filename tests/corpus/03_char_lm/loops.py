"""Loops over time steps: the embedding gradient accumulated one position at a time, the
temporal affine layer applied step by step, the loss computed per position with a
log-sum-exp, and the caches are dicts."""

import numpy as np


def word_embedding_forward(x, W):
    out = np.zeros(x.shape + (W.shape[1],), dtype=W.dtype)
    for idx in np.ndindex(*x.shape):
        out[idx] = W[x[idx]]
    return out, {"x": x, "V": W.shape[0], "dtype": W.dtype}


def word_embedding_backward(dout, cache):
    dW = np.zeros((cache["V"], dout.shape[-1]), dtype=dout.dtype)
    for idx in np.ndindex(*cache["x"].shape):
        dW[cache["x"][idx]] += dout[idx]
    return dW


def temporal_affine_forward(x, w, b):
    out = np.stack([x[:, t] @ w + b for t in range(x.shape[1])], axis=1)
    return out, {"x": x, "w": w}


def temporal_affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[1], dtype=dout.dtype)
    for t in range(x.shape[1]):
        dx[:, t] = dout[:, t] @ w.T
        dw += x[:, t].T @ dout[:, t]
        db += dout[:, t].sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            s = x[n, t]
            m = s.max()
            lse = m + np.log(np.sum(np.exp(s - m)))
            loss += lse - s[y[n, t]]
            p = np.exp(s - lse)
            p[y[n, t]] -= 1
            dx[n, t] = p / N
    if verbose:
        print("dx:", dx.shape)
    return float(loss / N), dx


def softmax_with_temperature(scores, temperature=1.0):
    out = np.empty_like(scores)
    for n, row in enumerate(scores):
        z = row / temperature
        e = np.exp(z - z.max())
        out[n] = e / e.sum()
    return out


def sample_next(scores, u, temperature=1.0):
    probs = softmax_with_temperature(scores, temperature)
    idx = np.empty(len(u), dtype=np.int64)
    for n in range(len(u)):
        acc = 0.0
        for v, p in enumerate(probs[n]):
            acc += p
            if acc > u[n]:
                break
        idx[n] = v
    return idx
