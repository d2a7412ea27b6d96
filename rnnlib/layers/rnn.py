"""The vanilla (Elman) recurrent layer: h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""

import numpy as np

from rnntools.checks import dims, expect


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with a tanh nonlinearity.

    Inputs:
    - x: input at this time step, of shape (N, D).
    - prev_h: hidden state of the previous time step, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, H).
    - Wh: hidden-to-hidden weights, of shape (H, H).
    - b: biases, of shape (H,).

    Returns a tuple of:
    - next_h: the next hidden state, tanh(x Wx + prev_h Wh + b), of shape (N, H).
    - cache: (x, prev_h, Wx, Wh, next_h), for rnn_step_backward.
    """
    N, D = dims("x", x, "(N, D)")
    H = dims("Wh", Wh, "(H, H)")[0]
    expect("prev_h", prev_h, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, H)", (D, H), x.dtype)
    expect("Wh", Wh, "(H, H)", (H, H), x.dtype)
    expect("b", b, "(H,)", (H,), x.dtype)

    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of rnn_step_forward.

    Inputs:
    - dnext_h: upstream gradient with respect to next_h, of shape (N, H).
    - cache: (x, prev_h, Wx, Wh, next_h) from rnn_step_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D).
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, H).
    - dWh: gradient with respect to Wh, of shape (H, H).
    - db: gradient with respect to b, of shape (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    expect("dnext_h", dnext_h, "(N, H)", next_h.shape, x.dtype)

    # tanh'(a) = 1 - tanh(a)^2, and tanh(a) is next_h.
    da = dnext_h * (1 - next_h * next_h)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN run over a whole sequence.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, H).
    - Wh: hidden-to-hidden weights, of shape (H, H).
    - b: biases, of shape (H,).

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - cache: (xs, h0, Wx, Wh, hs), for rnn_backward; xs (T, N, D) and hs (T, N, H) are the
      input and the hidden states stored time-major.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, H)", (D, H), x.dtype)
    expect("Wh", Wh, "(H, H)", (H, H), x.dtype)
    expect("b", b, "(H,)", (H,), x.dtype)

    # Time-major storage makes each step's (N, H) block contiguous for the matrix products.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    # The input projection does not depend on the recurrence: one product for all steps.
    hs = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, H)
    prev_h = h0
    for t in range(T):
        hs[t] += prev_h @ Wh
        np.tanh(hs[t], out=hs[t])
        prev_h = hs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, h0, Wx, Wh, hs)
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass of rnn_forward (backpropagation through time).

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H). dh[:, t] is the gradient
      that reaches h_t from outside the RNN (e.g. from the output layer), not through h_{t+1}.
    - cache: (xs, h0, Wx, Wh, hs) from rnn_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, H).
    - dWh: gradient with respect to Wh, of shape (H, H).
    - db: gradient with respect to b, of shape (H,).
    """
    xs, h0, Wx, Wh, hs = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)

    # da[t] is the gradient of step t's pre-activation; tanh' = 1 - h^2 for all steps at once.
    da = 1 - hs * hs
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        da[t] *= dh[:, t] + dprev_h
        dprev_h = da[t] @ Wh.T

    # The weight gradients sum over the steps: one matrix product over all T*N rows.
    da_flat = da.reshape(T * N, H)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(T * N, H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = h_prev.T @ da_flat
    db = da_flat.sum(axis=0)
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dprev_h, dWx, dWh, db
