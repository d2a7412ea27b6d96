"""Gradient clipping for dicts of gradients (the ``grads`` a model's ``loss`` returns).

Both functions are pure: they return new arrays and leave the input dict and its arrays
untouched; every clipped array keeps its dtype.
"""

import math

import numpy as np

__all__ = ["clip_by_value", "clip_by_global_norm", "global_norm"]


def _check_grads(grads):
    if not isinstance(grads, dict):
        raise ValueError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    return {k: np.asarray(v) for k, v in grads.items()}


def global_norm(grads):
    """The Euclidean norm of all gradients taken together, sqrt(sum over arrays of sum g**2).

    Inputs:
    - grads: dict mapping parameter names to arrays of any shape.

    Returns a Python float. The sum is accumulated in float64, so float32 gradients whose
    squares would overflow float32 still give a finite norm.
    """
    grads = _check_grads(grads)
    total = 0.0
    for g in grads.values():
        g64 = g.astype(np.float64, copy=False).ravel()
        total += float(g64 @ g64)
    return math.sqrt(total)


def clip_by_value(grads, limit):
    """Clip every gradient entry to the interval [-limit, limit].

    Inputs:
    - grads: dict mapping parameter names to arrays of any shape.
    - limit: positive scalar.

    Returns a new dict with the same keys; each array has the shape and dtype of the input.
    """
    grads = _check_grads(grads)
    if not limit > 0:
        raise ValueError(f"limit must be a positive number, got {limit!r}")
    return {k: np.clip(g, -limit, limit).astype(g.dtype, copy=False) for k, g in grads.items()}


def clip_by_global_norm(grads, max_norm):
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    If the global norm n exceeds max_norm, every array is multiplied by max_norm / n (the
    direction of the whole gradient is kept); otherwise the arrays are returned unscaled
    (as copies). A non-finite norm (an inf or nan somewhere) cannot be rescaled meaningfully:
    the gradients are returned unchanged and the caller can test the returned norm with
    ``math.isfinite`` to skip the step.

    Inputs:
    - grads: dict mapping parameter names to arrays of any shape.
    - max_norm: positive scalar.

    Returns a tuple of:
    - clipped: a new dict with the same keys, shapes and dtypes.
    - norm: Python float, the global norm *before* clipping.
    """
    grads = _check_grads(grads)
    if not max_norm > 0:
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    norm = global_norm(grads)
    if not math.isfinite(norm) or norm <= max_norm:
        return {k: g.copy() for k, g in grads.items()}, norm
    scale = max_norm / norm
    clipped = {k: (g * np.asarray(scale, dtype=g.dtype)) for k, g in grads.items()}
    return clipped, norm
