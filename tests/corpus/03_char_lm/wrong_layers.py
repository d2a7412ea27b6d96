"""Typical mistakes in the layers: the embedding indexed with x.T (a time-major (T, N, D)
output), the temporal affine layer without its bias and its db summed over the batch only
(shape (T, M)), and sample_next that takes the most likely token instead of drawing with u.
The training check, which uses the layers, fails with them. The backward functions are the
reference's; the embedding's visible gradient check fails all the same, as it differentiates
this wrong forward, while its hidden test (which takes only the forward's cache) passes."""

import numpy as np

LOSES = {
    "test_word_embedding_forward": "own bug: W[x.T], shape (T, N, D)",
    "test_temporal_affine_forward": "own bug: + b missing",
    "test_temporal_affine_backward": "own bug: db summed over axis 0 only, shape (T, M)",
    "test_sample_next": "own bug: argmax, u ignored",
    "test_training": "cascade: trains with the wrong layers",
}

VISIBLE = {
    "test_word_embedding_backward": "its gradient check differentiates the wrong forward; "
                                    "the backward itself is right",
}


def word_embedding_forward(x, W):
    return W[x.T], (x, W)  # wrong: out[n, t] must be W[x[n, t]]


def temporal_affine_forward(x, w, b):
    out = x @ w  # wrong: + b is missing
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    dx = dout @ w.T
    dw = np.tensordot(x, dout, axes=([0, 1], [0, 1]))
    db = dout.sum(axis=0)  # wrong: db sums over axes 0 and 1, shape (M,)
    return dx, dw, db


def sample_next(scores, u, temperature=1.0):
    return np.argmax(scores, axis=1)  # wrong: greedy, the draw u is ignored
