"""Activation functions the layers use (not graded)."""

import numpy as np

__all__ = ["sigmoid"]


def sigmoid(x, out=None):
    """Logistic sigmoid 1 / (1 + exp(-x)), numerically stable for any x, keeping x's dtype.

    It is computed as 0.5 * (1 + tanh(x / 2)), an exact identity: tanh never overflows, so there
    is no exp(-x) to blow up for large negative x and no branch on the sign of x.

    Inputs:
    - x: array of any shape, float32 or float64.
    - out: optional array of x's shape and dtype to write the result into (it may be x itself).

    Returns an array of x's shape and dtype.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out
