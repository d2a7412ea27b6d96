"""Word embeddings: a lookup table from integer word indices to vectors."""

import numpy as np

from rnntools.checks import dims, expect, expect_int


def word_embedding_forward(x, W):
    """Look up the vector of every word index.

    Inputs:
    - x: integer array of shape (N, T), each entry a word index in [0, V). Any other shape works
      too: the output then has shape x.shape + (D,).
    - W: the embedding matrix, of shape (V, D); row v is the vector of word v.

    Returns a tuple of:
    - out: the word vectors, of shape (N, T, D), with out[n, t] = W[x[n, t]].
    - cache: (x, W), for word_embedding_backward.
    """
    V, D = dims("W", W, "(V, D)")
    expect_int("x", x, upper=V)

    out = W[x]
    cache = (x, W)
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of word_embedding_forward (the indices x get no gradient).

    Inputs:
    - dout: upstream gradient, of shape (N, T, D).
    - cache: (x, W) from word_embedding_forward.

    Returns:
    - dW: gradient with respect to W, of shape (V, D).
    """
    x, W = cache
    D = W.shape[1]
    expect("dout", dout, "x.shape + (D,)", x.shape + (D,), W.dtype)

    # A word that occurs several times collects the sum of its gradients; np.add.at adds
    # repeated indices one by one, where the fancy-indexed `dW[x] += dout` would keep only one.
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW
