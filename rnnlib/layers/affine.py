"""Affine (fully connected) layers, for one vector per example and for one per time step."""

import numpy as np

from rnntools.checks import dims, expect


def affine_forward(x, w, b):
    """Affine layer: out = x w + b, with every example's input flattened to a vector.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k); each example is reshaped to a vector of size
      D = d_1 * ... * d_k (so a plain (N, D) matrix works too).
    - w: weights, of shape (D, M).
    - b: biases, of shape (M,).

    Returns a tuple of:
    - out: output, of shape (N, M).
    - cache: (x, w, b), for affine_backward.
    """
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        raise ValueError("x must be an array of shape (N, d_1, ..., d_k) with at least 2 axes")
    dims("x", x.reshape(x.shape[0], -1), "(N, D)")
    N, D = x.shape[0], int(np.prod(x.shape[1:]))
    M = dims("w", w, "(D, M)")[1]
    expect("w", w, "(D, M)", (D, M), x.dtype)
    expect("b", b, "(M,)", (M,), x.dtype)

    out = x.reshape(N, D) @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs:
    - dout: upstream gradient, of shape (N, M).
    - cache: (x, w, b) from affine_forward, with x of shape (N, d_1, ..., d_k), w (D, M), b (M,).

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, d_1, ..., d_k).
    - dw: gradient with respect to w, of shape (D, M).
    - db: gradient with respect to b, of shape (M,).
    """
    x, w, b = cache
    N = x.shape[0]
    D, M = w.shape
    expect("dout", dout, "(N, M)", (N, M), x.dtype)

    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, D).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def temporal_affine_forward(x, w, b):
    """Affine layer applied at every time step: out[:, t] = x[:, t] w + b.

    Inputs:
    - x: input, of shape (N, T, D).
    - w: weights, of shape (D, M).
    - b: biases, of shape (M,).

    Returns a tuple of:
    - out: output, of shape (N, T, M).
    - cache: (x, w, b, out), for temporal_affine_backward.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    M = dims("w", w, "(D, M)")[1]
    expect("w", w, "(D, M)", (D, M), x.dtype)
    expect("b", b, "(M,)", (M,), x.dtype)

    # All N*T positions go through one matrix product.
    out = (x.reshape(N * T, D) @ w + b).reshape(N, T, M)
    cache = (x, w, b, out)
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward pass of temporal_affine_forward.

    Inputs:
    - dout: upstream gradient, of shape (N, T, M).
    - cache: (x, w, b, out) from temporal_affine_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dw: gradient with respect to w, of shape (D, M).
    - db: gradient with respect to b, of shape (M,).
    """
    x, w, b, out = cache
    N, T, D = x.shape
    M = w.shape[1]
    expect("dout", dout, "(N, T, M)", (N, T, M), x.dtype)

    dout2 = dout.reshape(N * T, M)
    dx = (dout2 @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout2
    db = dout2.sum(axis=0)
    return dx, dw, db
