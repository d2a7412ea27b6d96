"""The peephole LSTM (Gers & Schmidhuber 2000): the gates also look at the cell state.

Gate columns are ordered i, f, o, g as in the plain LSTM. Wp (3, H) holds one diagonal peephole
weight vector per gate: the input and forget gates see the previous cell state,
    i = sigmoid(a_i + Wp[0] * prev_c),  f = sigmoid(a_f + Wp[1] * prev_c),
while the output gate, computed after the cell update, sees the new one:
    o = sigmoid(a_o + Wp[2] * next_c).
"""

import numpy as np

from rnntools.activations import sigmoid
from rnntools.checks import dims, expect


def peephole_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wp):
    """One time step of a peephole LSTM.

    Inputs:
    - x: input at this time step, of shape (N, D).
    - prev_h: previous hidden state, of shape (N, H).
    - prev_c: previous cell state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).
    - Wp: peephole weights, of shape (3, H); rows for the gates i, f, o.

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H).
    - next_c: next cell state, of shape (N, H).
    - cache: values needed by peephole_lstm_step_backward.
    """
    N, D = dims("x", x, "(N, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("prev_h", prev_h, "(N, H)", (N, H), x.dtype)
    expect("prev_c", prev_c, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)
    expect("Wp", Wp, "(3, H)", (3, H), x.dtype)

    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H] + Wp[0] * prev_c)
    f = sigmoid(a[:, H:2 * H] + Wp[1] * prev_c)
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    o = sigmoid(a[:, 2 * H:3 * H] + Wp[2] * next_c)
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, next_c, tanh_c)
    return next_h, next_c, cache


def peephole_lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of peephole_lstm_step_forward.

    Inputs:
    - dnext_h: upstream gradient with respect to next_h, of shape (N, H).
    - dnext_c: upstream gradient with respect to next_c, of shape (N, H).
    - cache: from peephole_lstm_step_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D).
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dprev_c: gradient with respect to prev_c, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    - dWp: gradient with respect to Wp, of shape (3, H).
    """
    x, prev_h, prev_c, Wx, Wh, Wp, i, f, o, g, next_c, tanh_c = cache
    expect("dnext_h", dnext_h, "(N, H)", prev_h.shape, x.dtype)
    expect("dnext_c", dnext_c, "(N, H)", prev_h.shape, x.dtype)

    da_o = dnext_h * tanh_c * o * (1 - o)
    # next_c reaches the loss directly, through tanh(next_c) in next_h, and through the output
    # gate's peephole.
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c) + da_o * Wp[2]
    da_i = dc * g * i * (1 - i)
    da_f = dc * prev_c * f * (1 - f)
    da_g = dc * i * (1 - g * g)
    dprev_c = dc * f + da_i * Wp[0] + da_f * Wp[1]
    dWp = np.stack([(da_i * prev_c).sum(axis=0),
                    (da_f * prev_c).sum(axis=0),
                    (da_o * next_c).sum(axis=0)])

    da = np.concatenate([da_i, da_f, da_o, da_g], axis=1)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db, dWp


def peephole_lstm_forward(x, h0, Wx, Wh, b, Wp):
    """A peephole LSTM run over a whole sequence, starting from h0 and a zero cell state.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).
    - Wp: peephole weights, of shape (3, H); rows for the gates i, f, o.

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - cache: values needed by peephole_lstm_backward, stored time-major: (xs, h0, Wx, Wh, Wp,
      gates, cs, tanh_cs, hs) with xs (T, N, D), gates (T, N, 4H) holding i, f, o, g after
      their nonlinearities, and cs, tanh_cs, hs (T, N, H).
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)
    expect("Wp", Wp, "(3, H)", (3, H), x.dtype)

    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    # One product for the input projection of all steps; the gates are then computed in place.
    gates = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 4 * H)
    cs = np.empty((T, N, H), dtype=x.dtype)
    tanh_cs = np.empty((T, N, H), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        a = gates[t]
        a += prev_h @ Wh
        a[:, :H] += Wp[0] * prev_c
        a[:, H:2 * H] += Wp[1] * prev_c
        sigmoid(a[:, :2 * H], out=a[:, :2 * H])
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, prev_c, out=cs[t])
        cs[t] += i * g
        o += Wp[2] * cs[t]
        sigmoid(o, out=o)
        np.tanh(cs[t], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t])
        prev_h, prev_c = hs[t], cs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, h0, Wx, Wh, Wp, gates, cs, tanh_cs, hs)
    return h, cache


def peephole_lstm_backward(dh, cache):
    """Backward pass of peephole_lstm_forward (backpropagation through time).

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H).
    - cache: from peephole_lstm_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    - dWp: gradient with respect to Wp, of shape (3, H).
    """
    xs, h0, Wx, Wh, Wp, gates, cs, tanh_cs, hs = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)

    da = np.empty((T, N, 4 * H), dtype=xs.dtype)
    dnext_h = np.zeros_like(h0)
    dnext_c = np.zeros_like(h0)
    for t in reversed(range(T)):
        i, f, o, g = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        prev_c = cs[t - 1] if t > 0 else np.zeros_like(h0)
        tanh_c = tanh_cs[t]
        dh_t = dh[:, t] + dnext_h
        da_o = da[t, :, 2 * H:3 * H]
        np.multiply(dh_t, tanh_c * o * (1 - o), out=da_o)
        # c_t reaches the loss directly, through tanh(c_t) in h_t, and through the output
        # gate's peephole.
        dc = dnext_c + dh_t * o * (1 - tanh_c * tanh_c) + da_o * Wp[2]
        da_i = np.multiply(dc, g * i * (1 - i), out=da[t, :, :H])
        da_f = np.multiply(dc, prev_c * f * (1 - f), out=da[t, :, H:2 * H])
        da[t, :, 3 * H:] = dc * i * (1 - g * g)
        dnext_c = dc * f + da_i * Wp[0] + da_f * Wp[1]
        dnext_h = da[t] @ Wh.T

    da_flat = da.reshape(T * N, 4 * H)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(T * N, H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = h_prev.T @ da_flat
    db = da_flat.sum(axis=0)
    c_prev = np.concatenate([np.zeros_like(h0)[None], cs[:-1]])
    dWp = np.stack([(da[:, :, :H] * c_prev).sum(axis=(0, 1)),
                    (da[:, :, H:2 * H] * c_prev).sum(axis=(0, 1)),
                    (da[:, :, 2 * H:3 * H] * cs).sum(axis=(0, 1))])
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dnext_h, dWx, dWh, db, dWp
