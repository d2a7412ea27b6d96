"""einsum and one-hot matrices: the embedding gradient as one_hot.T @ dout, the affine
layer with einsum, and the loss from a log-sum-exp helper of its own (in the inputs' dtype)."""

import numpy as np


def logsumexp(z, axis, keepdims=False):
    m = np.max(z, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def word_embedding_forward(x, W):
    return np.take(W, x, axis=0), [x, W.shape]


def word_embedding_backward(dout, cache):
    x, (V, D) = cache
    one_hot = (x.reshape(-1)[:, None] == np.arange(V)[None, :]).astype(dout.dtype)
    return one_hot.T @ dout.reshape(-1, D)


def temporal_affine_forward(x, w, b):
    return np.einsum("ntd,dm->ntm", x, w) + b, [x, w]


def temporal_affine_backward(dout, cache):
    x, w = cache
    return (np.einsum("ntm,dm->ntd", dout, w), np.einsum("ntd,ntm->dm", x, dout),
            np.einsum("ntm->m", dout))


def temporal_softmax_loss(x, y, mask, verbose=False):
    N = x.shape[0]
    lse = logsumexp(x, axis=2, keepdims=True)
    logp = x - lse.astype(x.dtype)
    picked = np.take_along_axis(logp, y[..., None], axis=2)[..., 0]
    loss = -np.sum(np.where(mask, picked, 0.0)) / N
    dx = np.exp(logp)
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1,
                      axis=2)
    dx = dx * (mask[..., None] / N).astype(x.dtype)
    if verbose:
        print(dx.shape)
    return float(loss), dx


def softmax_with_temperature(scores, temperature=1.0):
    z = scores / temperature
    return np.exp(z - logsumexp(z, axis=1, keepdims=True)).astype(scores.dtype)


def sample_next(scores, u, temperature=1.0):
    cdf = np.cumsum(softmax_with_temperature(scores, temperature), axis=1)
    idx = np.array([np.searchsorted(row, v, side="right") for row, v in zip(cdf, u)])
    return np.clip(idx, 0, scores.shape[1] - 1)
