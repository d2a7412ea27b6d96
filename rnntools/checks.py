"""Input validation shared by the layer functions.

A layer given an array of the wrong shape or dtype should fail at once with a message that names
the argument and the shape it expected, instead of failing deep inside a matrix product (or,
worse, broadcasting silently). These helpers raise ``ValueError`` for that. They are not graded:
students may call them from their own code.

Shapes are written twice in every message: symbolically, as in the docstrings, and with the
numbers of the call, e.g. ``Wh must have shape (H, 4H) = (5, 20), got (5, 16)``.
"""

import numpy as np

__all__ = ["dims", "expect", "expect_int", "FLOAT_DTYPES"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _ndim_of(shape):
    """Number of axes in a symbolic shape string such as ``"(N, T, D)"``."""
    inner = shape.strip().strip("()").strip().rstrip(",")
    return 0 if not inner else len(inner.split(","))


def dims(name, x, shape):
    """Check that ``x`` is a float32/float64 array with as many axes as ``shape``; return x.shape.

    Inputs:
    - name: the argument's name, used in the error message.
    - x: the array to check.
    - shape: the symbolic shape as a string, e.g. ``"(N, T, D)"``.

    Returns the tuple ``x.shape``, so that a caller can read the sizes from it:
    ``N, T, D = dims("x", x, "(N, T, D)")``.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array of shape {shape}, got {type(x).__name__}")
    ndim = _ndim_of(shape)
    if x.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array of shape {shape}, got shape {tuple(x.shape)}"
        )
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    return x.shape


def expect(name, x, shape, expected, dtype):
    """Check that ``x`` is an array of exactly the shape ``expected`` and the dtype ``dtype``.

    Inputs:
    - name: the argument's name, used in the error message.
    - x: the array to check.
    - shape: the symbolic shape as a string, e.g. ``"(H, 4H)"``.
    - expected: the same shape as a tuple of ints, e.g. ``(5, 20)``.
    - dtype: the dtype every floating-point argument of the call must share (usually x.dtype).
    """
    expected = tuple(int(n) for n in expected)
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"{name} must be a NumPy array of shape {shape} = {expected}, got {type(x).__name__}"
        )
    if x.shape != expected:
        raise ValueError(f"{name} must have shape {shape} = {expected}, got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise ValueError(
            f"{name} must have dtype {np.dtype(dtype)} like the other inputs, got {x.dtype}"
        )


def expect_int(name, x, upper=None):
    """Check that ``x`` is an integer array, with every entry in ``[0, upper)`` if upper is given.

    Inputs:
    - name: the argument's name, used in the error message.
    - x: the array of indices to check.
    - upper: the exclusive upper bound of the indices (e.g. the vocabulary size V), or None.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.integer):
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{name} must be an integer array, got {got}")
    if upper is not None and x.size and (x.min() < 0 or x.max() >= upper):
        raise ValueError(
            f"{name} must hold indices in [0, {upper}), got values in [{x.min()}, {x.max()}]"
        )
