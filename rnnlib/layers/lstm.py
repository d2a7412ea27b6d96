"""The LSTM layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

The 4H columns of Wx, Wh and b hold the gates in the order i, f, o, g (input, forget, output,
candidate), as in CS231n: i, f, o go through a sigmoid and g through tanh, then
next_c = f * prev_c + i * g and next_h = o * tanh(next_c).
"""

import numpy as np

from rnntools.activations import sigmoid
from rnntools.checks import dims, expect


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn=None, Wattn=None):
    """One time step of an LSTM, optionally fed an attention vector.

    Inputs:
    - x: input at this time step, of shape (N, D).
    - prev_h: previous hidden state, of shape (N, H).
    - prev_c: previous cell state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).
    - attn: optional attention vector, of shape (N, H); its projection attn Wattn is added to
      the gates' pre-activation.
    - Wattn: attention-to-hidden weights, of shape (H, 4H); needed exactly when attn is given.

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H).
    - next_c: next cell state, of shape (N, H).
    - cache: values needed by lstm_step_backward.
    """
    N, D = dims("x", x, "(N, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("prev_h", prev_h, "(N, H)", (N, H), x.dtype)
    expect("prev_c", prev_c, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)
    if (attn is None) != (Wattn is None):
        raise ValueError("attn and Wattn must be given together")
    if attn is not None:
        expect("attn", attn, "(N, H)", (N, H), x.dtype)
        expect("Wattn", Wattn, "(H, 4H)", (H, 4 * H), x.dtype)

    a = x @ Wx + prev_h @ Wh + b
    if attn is not None:
        a += attn @ Wattn
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, attn, Wattn, i, f, o, g, tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of lstm_step_forward.

    Inputs:
    - dnext_h: upstream gradient with respect to next_h, of shape (N, H).
    - dnext_c: upstream gradient with respect to next_c, of shape (N, H).
    - cache: from lstm_step_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D).
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dprev_c: gradient with respect to prev_c, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    and, only when the forward step was given attn and Wattn, also
    - dattn: gradient with respect to attn, of shape (N, H).
    - dWattn: gradient with respect to Wattn, of shape (H, 4H).
    """
    x, prev_h, prev_c, Wx, Wh, attn, Wattn, i, f, o, g, tanh_c = cache
    expect("dnext_h", dnext_h, "(N, H)", prev_h.shape, x.dtype)
    expect("dnext_c", dnext_c, "(N, H)", prev_h.shape, x.dtype)

    do = dnext_h * tanh_c
    # next_c reaches the loss directly (dnext_c) and through next_h = o * tanh(next_c).
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    # sigmoid' = s (1 - s) and tanh' = 1 - t^2, written with the gates' values.
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)], axis=1
    )
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    if attn is None:
        return dx, dprev_h, dprev_c, dWx, dWh, db
    dattn = da @ Wattn.T
    dWattn = attn.T @ da
    return dx, dprev_h, dprev_c, dWx, dWh, db, dattn, dWattn


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM run over a whole sequence, starting from h0 and a zero cell state.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - cache: values needed by lstm_backward, stored time-major: (xs, h0, Wx, Wh, gates, cs,
      tanh_cs, hs) with xs (T, N, D), gates (T, N, 4H) holding i, f, o, g after their
      nonlinearities, and cs, tanh_cs, hs (T, N, H).
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)

    # Time-major storage makes each step's block contiguous for the matrix products.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    # The input projection does not depend on the recurrence: one product for all steps.
    # The gates are then computed in place in this buffer, step by step.
    gates = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 4 * H)
    cs = np.empty((T, N, H), dtype=x.dtype)
    tanh_cs = np.empty((T, N, H), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        a = gates[t]
        a += prev_h @ Wh
        # i, f, o are one contiguous block of columns, so one sigmoid call covers them.
        sigmoid(a[:, :3 * H], out=a[:, :3 * H])
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, prev_c, out=cs[t])
        cs[t] += i * g
        np.tanh(cs[t], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t])
        prev_h, prev_c = hs[t], cs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, h0, Wx, Wh, gates, cs, tanh_cs, hs)
    return h, cache


def lstm_backward(dh, cache):
    """Backward pass of lstm_forward (backpropagation through time).

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H). dh[:, t] is the gradient
      that reaches h_t from outside the LSTM, not through step t + 1.
    - cache: from lstm_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    """
    xs, h0, Wx, Wh, gates, cs, tanh_cs, hs = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)

    # da[t] will hold the gradient of step t's gate pre-activations (i, f, o, g blocks).
    da = np.empty((T, N, 4 * H), dtype=xs.dtype)
    dnext_h = np.zeros_like(h0)
    dnext_c = np.zeros_like(h0)
    for t in reversed(range(T)):
        i, f, o, g = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        prev_c = cs[t - 1] if t > 0 else np.zeros_like(h0)
        tanh_c = tanh_cs[t]
        dh_t = dh[:, t] + dnext_h
        # c_t reaches the loss directly (dnext_c) and through h_t = o * tanh(c_t).
        dc = dnext_c + dh_t * o * (1 - tanh_c * tanh_c)
        # Each gate's gradient times the derivative of its nonlinearity, written with the
        # gates' values: sigmoid' = s (1 - s), tanh' = 1 - t^2. The small (N, H) temporaries
        # stay in cache, which makes this faster than whole-sequence arrays.
        da[t, :, :H] = dc * g * i * (1 - i)
        da[t, :, H:2 * H] = dc * prev_c * f * (1 - f)
        da[t, :, 2 * H:3 * H] = dh_t * tanh_c * o * (1 - o)
        da[t, :, 3 * H:] = dc * i * (1 - g * g)
        dnext_c = dc * f
        dnext_h = da[t] @ Wh.T

    # The weight gradients sum over the steps: one matrix product over all T*N rows.
    da_flat = da.reshape(T * N, 4 * H)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(T * N, H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = h_prev.T @ da_flat
    db = da_flat.sum(axis=0)
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dnext_h, dWx, dWh, db
