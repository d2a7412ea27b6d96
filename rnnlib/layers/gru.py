"""The gated recurrent unit (Cho et al. 2014), with the reset gate applied before the product.

The 3H columns of Wx, Wh and b hold the gates in the order r, z, n (reset, update, candidate):
    r = sigmoid(x Wx_r + h Wh_r + b_r)
    z = sigmoid(x Wx_z + h Wh_z + b_z)
    n = tanh(x Wx_n + b_n + (r * h) Wh_n)
    next_h = z * h + (1 - z) * n
How this differs from PyTorch's nn.GRU: PyTorch resets after the product,
n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), and keeps two bias vectors (b_ih and b_hh);
its weights are stored transposed, (3H, D) and (3H, H). With the reset after the product all
three gates of a step need only one product h Wh, which is why cuDNN and PyTorch chose it; the
paper's version here needs a second product, (r * h) Wh_n, once r is known. The two are
different functions: parameters of one do not give the same outputs in the other.
"""

import numpy as np

from rnntools.activations import sigmoid
from rnntools.checks import dims, expect


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a GRU.

    Inputs:
    - x: input at this time step, of shape (N, D).
    - prev_h: previous hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 3H), gate columns in the order r, z, n.
    - Wh: hidden-to-hidden weights, of shape (H, 3H).
    - b: biases, of shape (3H,).

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H).
    - cache: values needed by gru_step_backward.
    """
    N, D = dims("x", x, "(N, D)")
    H = dims("Wh", Wh, "(H, 3H)")[0]
    expect("prev_h", prev_h, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 3H)", (D, 3 * H), x.dtype)
    expect("Wh", Wh, "(H, 3H)", (H, 3 * H), x.dtype)
    expect("b", b, "(3H,)", (3 * H,), x.dtype)

    ax = x @ Wx + b
    a_rz = ax[:, :2 * H] + prev_h @ Wh[:, :2 * H]
    r = sigmoid(a_rz[:, :H])
    z = sigmoid(a_rz[:, H:])
    rh = r * prev_h
    n = np.tanh(ax[:, 2 * H:] + rh @ Wh[:, 2 * H:])
    next_h = z * prev_h + (1 - z) * n
    cache = (x, prev_h, Wx, Wh, r, z, n, rh)
    return next_h, cache


def gru_step_backward(dnext_h, cache):
    """Backward pass of gru_step_forward.

    Inputs:
    - dnext_h: upstream gradient with respect to next_h, of shape (N, H).
    - cache: from gru_step_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D).
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 3H).
    - dWh: gradient with respect to Wh, of shape (H, 3H).
    - db: gradient with respect to b, of shape (3H,).
    """
    x, prev_h, Wx, Wh, r, z, n, rh = cache
    H = prev_h.shape[1]
    expect("dnext_h", dnext_h, "(N, H)", prev_h.shape, x.dtype)

    da_n = dnext_h * (1 - z) * (1 - n * n)
    da_z = dnext_h * (prev_h - n) * z * (1 - z)
    # prev_h enters next_h directly (through z * h), the candidate (through r * h) and the
    # pre-activations of r and z.
    drh = da_n @ Wh[:, 2 * H:].T
    da_r = drh * prev_h * r * (1 - r)
    da_rz = np.concatenate([da_r, da_z], axis=1)
    dprev_h = dnext_h * z + drh * r + da_rz @ Wh[:, :2 * H].T

    da = np.concatenate([da_rz, da_n], axis=1)
    dx = da @ Wx.T
    dWx = x.T @ da
    dWh = np.concatenate([prev_h.T @ da_rz, rh.T @ da_n], axis=1)
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def gru_forward(x, h0, Wx, Wh, b):
    """A GRU run over a whole sequence.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 3H), gate columns in the order r, z, n.
    - Wh: hidden-to-hidden weights, of shape (H, 3H).
    - b: biases, of shape (3H,).

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - cache: values needed by gru_backward, stored time-major: (xs, h0, Wx, Wh, gates, rhs, hs)
      with xs (T, N, D), gates (T, N, 3H) holding r, z, n after their nonlinearities, and
      rhs (the reset hidden states r * h_{t-1}) and hs of shape (T, N, H).
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 3H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("Wx", Wx, "(D, 3H)", (D, 3 * H), x.dtype)
    expect("Wh", Wh, "(H, 3H)", (H, 3 * H), x.dtype)
    expect("b", b, "(3H,)", (3 * H,), x.dtype)

    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    # One product for the input projection of all steps; the gates are then computed in place.
    gates = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 3 * H)
    Wh_rz = np.ascontiguousarray(Wh[:, :2 * H])
    Wh_n = np.ascontiguousarray(Wh[:, 2 * H:])
    rhs = np.empty((T, N, H), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    prev_h = h0
    for t in range(T):
        a = gates[t]
        a[:, :2 * H] += prev_h @ Wh_rz
        sigmoid(a[:, :2 * H], out=a[:, :2 * H])
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        np.multiply(r, prev_h, out=rhs[t])
        n += rhs[t] @ Wh_n
        np.tanh(n, out=n)
        # z * h + (1 - z) * n, written with one product fewer.
        np.subtract(prev_h, n, out=hs[t])
        hs[t] *= z
        hs[t] += n
        prev_h = hs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, h0, Wx, Wh, gates, rhs, hs)
    return h, cache


def gru_backward(dh, cache):
    """Backward pass of gru_forward (backpropagation through time).

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H).
    - cache: from gru_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 3H).
    - dWh: gradient with respect to Wh, of shape (H, 3H).
    - db: gradient with respect to b, of shape (3H,).
    """
    xs, h0, Wx, Wh, gates, rhs, hs = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)

    Wh_rz_T = np.ascontiguousarray(Wh[:, :2 * H].T)
    Wh_n_T = np.ascontiguousarray(Wh[:, 2 * H:].T)
    da = np.empty((T, N, 3 * H), dtype=xs.dtype)
    dnext_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        r, z, n = (gates[t, :, k * H:(k + 1) * H] for k in range(3))
        prev_h = hs[t - 1] if t > 0 else h0
        dh_t = dh[:, t] + dnext_h
        da_n = np.multiply(dh_t, (1 - z) * (1 - n * n), out=da[t, :, 2 * H:])
        da[t, :, H:2 * H] = dh_t * (prev_h - n) * z * (1 - z)
        # The candidate saw r * h_{t-1}: its gradient splits between r and h_{t-1}.
        drh = da_n @ Wh_n_T
        da[t, :, :H] = drh * prev_h * r * (1 - r)
        dnext_h = dh_t * z + drh * r + da[t, :, :2 * H] @ Wh_rz_T

    h_prev = np.concatenate([h0[None], hs[:-1]])
    da_flat = da.reshape(T * N, 3 * H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = np.concatenate([h_prev.reshape(T * N, H).T @ da_flat[:, :2 * H],
                          rhs.reshape(T * N, H).T @ da_flat[:, 2 * H:]], axis=1)
    db = da_flat.sum(axis=0)
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dnext_h, dWx, dWh, db
