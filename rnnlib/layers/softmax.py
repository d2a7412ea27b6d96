"""The softmax cross-entropy loss summed over time steps."""

import numpy as np

from rnntools.checks import dims, expect_int


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy loss at every time step where mask is true.

    The loss is the sum over the N*T positions with mask[n, t] true of -log softmax(x[n, t])[y],
    divided by N (the batch size, not the number of positions counted), as in CS231n.

    Inputs:
    - x: scores, of shape (N, T, V).
    - y: integer targets, of shape (N, T), each in [0, V).
    - mask: boolean array of shape (N, T); mask[n, t] says whether position (n, t) counts.
    - verbose: if True, print the shape of dx.

    Returns a tuple of:
    - loss: the loss, a Python float.
    - dx: gradient of the loss with respect to x, of shape (N, T, V), in x's dtype.
    """
    N, T, V = dims("x", x, "(N, T, V)")
    expect_int("y", y, upper=V)
    if y.shape != (N, T):
        raise ValueError(f"y must have shape (N, T) = {(N, T)}, got {tuple(y.shape)}")
    if not isinstance(mask, np.ndarray) or mask.shape != (N, T):
        got = tuple(mask.shape) if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"mask must be an array of shape (N, T) = {(N, T)}, got {got}")

    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T).astype(x.dtype)

    # Shifting by the row maximum changes no probability but keeps exp from overflowing.
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N * T)
    loss = -(mask_flat * log_probs[rows, y_flat]).sum() / N

    dx_flat = np.exp(log_probs)
    dx_flat[rows, y_flat] -= 1
    dx_flat *= mask_flat[:, None] / x.dtype.type(N)
    dx = dx_flat.reshape(N, T, V)
    if verbose:
        print("dx:", dx.shape)
    return float(loss), dx
