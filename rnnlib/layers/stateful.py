"""LSTM sequence layers that start from a given cell state and return the last one.

Not graded and not part of the CS231n API: `lstm_forward` and `peephole_lstm_forward` start
from c0 = 0 and keep the cell state inside their cache, which is all that captioning needs.
A character language model trained with truncated backpropagation through time carries both
h and c from one chunk to the next; these functions do that with the same vectorised scheme as
the sequence layers (one input projection for all steps, weight gradients after the loop),
instead of a Python loop over the step functions. With c0 = 0 they compute exactly what
lstm_forward / peephole_lstm_forward compute (a test checks it).
"""

import numpy as np

from rnntools.activations import sigmoid
from rnntools.checks import dims, expect


def lstm_forward_state(x, h0, c0, Wx, Wh, b, Wp=None):
    """An LSTM (or, with Wp, a peephole LSTM) over a sequence from the state (h0, c0).

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - c0: initial cell state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).
    - Wp: optional peephole weights, of shape (3, H), as in peephole_lstm_forward.

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - c_last: the cell state after the last step, of shape (N, H).
    - cache: values needed by lstm_backward_state.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("c0", c0, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)
    if Wp is not None:
        expect("Wp", Wp, "(3, H)", (3, H), x.dtype)

    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    gates = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 4 * H)
    cs = np.empty((T, N, H), dtype=x.dtype)
    tanh_cs = np.empty((T, N, H), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    prev_h, prev_c = h0, c0
    for t in range(T):
        a = gates[t]
        a += prev_h @ Wh
        if Wp is None:
            sigmoid(a[:, :3 * H], out=a[:, :3 * H])
        else:
            a[:, :H] += Wp[0] * prev_c
            a[:, H:2 * H] += Wp[1] * prev_c
            sigmoid(a[:, :2 * H], out=a[:, :2 * H])
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, prev_c, out=cs[t])
        cs[t] += i * g
        if Wp is not None:
            o += Wp[2] * cs[t]
            sigmoid(o, out=o)
        np.tanh(cs[t], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t])
        prev_h, prev_c = hs[t], cs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, h0, c0, Wx, Wh, Wp, gates, cs, tanh_cs, hs)
    return h, cs[-1].copy(), cache


def lstm_backward_state(dh, cache, dc_last=None):
    """Backward pass of lstm_forward_state.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H).
    - cache: from lstm_forward_state.
    - dc_last: optional upstream gradient of c_last, of shape (N, H) (None for zero, as in
      truncated BPTT, where nothing after the chunk sends a gradient back).

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dc0: gradient with respect to c0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    and, when the forward pass had peephole weights, also
    - dWp: gradient with respect to Wp, of shape (3, H).
    """
    xs, h0, c0, Wx, Wh, Wp, gates, cs, tanh_cs, hs = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)
    if dc_last is not None:
        expect("dc_last", dc_last, "(N, H)", (N, H), xs.dtype)

    da = np.empty((T, N, 4 * H), dtype=xs.dtype)
    dnext_h = np.zeros_like(h0)
    dnext_c = np.zeros_like(h0) if dc_last is None else dc_last
    for t in reversed(range(T)):
        i, f, o, g = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        prev_c = cs[t - 1] if t > 0 else c0
        tanh_c = tanh_cs[t]
        dh_t = dh[:, t] + dnext_h
        da_o = da[t, :, 2 * H:3 * H]
        np.multiply(dh_t, tanh_c * o * (1 - o), out=da_o)
        dc = dnext_c + dh_t * o * (1 - tanh_c * tanh_c)
        if Wp is not None:
            dc += da_o * Wp[2]
        da[t, :, :H] = dc * g * i * (1 - i)
        da[t, :, H:2 * H] = dc * prev_c * f * (1 - f)
        da[t, :, 3 * H:] = dc * i * (1 - g * g)
        dnext_c = dc * f
        if Wp is not None:
            dnext_c += da[t, :, :H] * Wp[0] + da[t, :, H:2 * H] * Wp[1]
        dnext_h = da[t] @ Wh.T

    da_flat = da.reshape(T * N, 4 * H)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(T * N, H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = h_prev.T @ da_flat
    db = da_flat.sum(axis=0)
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    if Wp is None:
        return dx, dnext_h, dnext_c, dWx, dWh, db
    c_prev = np.concatenate([c0[None], cs[:-1]])
    dWp = np.stack([(da[:, :, :H] * c_prev).sum(axis=(0, 1)),
                    (da[:, :, H:2 * H] * c_prev).sum(axis=(0, 1)),
                    (da[:, :, 2 * H:3 * H] * cs).sum(axis=(0, 1))])
    return dx, dnext_h, dnext_c, dWx, dWh, db, dWp
