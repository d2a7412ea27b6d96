"""Inverted dropout (CS231n assignment 2 conventions)."""

import numpy as np

from rnntools.checks import dims, expect


def dropout_forward(x, dropout_param):
    """Inverted dropout: in training, keep each unit with probability p and scale it by 1 / p.

    Dividing by p at training time keeps the expected value of every unit unchanged, so the test
    mode is the identity and needs no rescaling.

    Inputs:
    - x: input, float32 or float64 array of any shape, e.g. (N, D) or (N, T, H).
    - dropout_param: dict with the keys
      - 'p': the probability of KEEPING a unit, 0 < p <= 1 (CS231n assignment 2's convention;
        PyTorch's nn.Dropout(q) takes the drop probability q = 1 - p).
      - 'mode': 'train' (drop units) or 'test' (return x unchanged).
      - 'seed' (optional): an int; when given, the mask comes from np.random.default_rng(seed),
        so a call is repeatable (used by gradient checks). Without it the mask is fresh random.

    Returns a tuple of:
    - out: array of x's shape and dtype.
    - cache: (dropout_param, mask); mask is None in test mode, else an array of x's shape
      holding 0 for a dropped unit and 1 / p for a kept one.
    """
    if not isinstance(x, np.ndarray) or x.ndim < 1:
        raise ValueError("x must be a NumPy array with at least one axis")
    dims("x", x.reshape(x.shape[0], -1), "(N, D)")
    p = dropout_param["p"]
    mode = dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout_param['p'] is the keep probability, in (0, 1]; got {p}")
    if mode not in ("train", "test"):
        raise ValueError(f"dropout_param['mode'] must be 'train' or 'test', got {mode!r}")

    if mode == "test":
        return x.copy(), (dropout_param, None)

    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) < p).astype(x.dtype) / x.dtype.type(p)
    out = x * mask
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Backward pass of dropout_forward.

    Inputs:
    - dout: upstream gradient, of the input's shape.
    - cache: (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: gradient with respect to x, of dout's shape.
    """
    dropout_param, mask = cache
    if dropout_param["mode"] == "test":
        return dout.copy()
    expect("dout", dout, "x.shape", mask.shape, mask.dtype)
    return dout * mask
