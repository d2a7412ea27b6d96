"""Numerical gradients by centred differences, for checking hand-written backward passes.

The names and behaviour are those of the CS231n assignments, so material written for them works:
compare an analytic gradient with a numerical one through ``rel_error``.
"""

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function f at x, by centred differences.

    Inputs:
    - f: a function of one argument returning a scalar; it is called with x itself, which is
      changed in place entry by entry (and restored after each entry).
    - x: the point, a float array of any shape (use float64: the differences lose about half
      of the significant digits).
    - verbose: if True, print every entry's index and gradient.
    - h: the step of the differences.

    Returns an array of x's shape: df/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2h).
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of sum(f(x) * df) with respect to x, for an array-valued f.

    This is what a backward pass computes: df is the upstream gradient of f's output.

    Inputs:
    - f: a function of one argument returning an array; it is called with x itself, which is
      changed in place entry by entry (and restored after each entry).
    - x: the point, a float array of any shape.
    - df: the upstream gradient, an array of f(x)'s shape.
    - h: the step of the differences.

    Returns an array of x's shape.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    """Largest relative error between two arrays: max |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
