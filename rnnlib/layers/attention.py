"""Scaled dot-product attention over a grid of image features, and the LSTM that uses it.

As in EECS 498 (Michigan) assignment 4: A (N, H, P, P) is a CNN feature grid projected to H
channels. At every step the previous hidden state scores each of the P*P locations by a dot
product scaled by 1/sqrt(H); the softmax of the scores weights the locations' feature vectors.
"""

import numpy as np

from rnntools.activations import sigmoid
from rnntools.checks import dims, expect


def dot_product_attention_forward(prev_h, A):
    """Scaled dot-product attention of a hidden state over a feature grid.

    Inputs:
    - prev_h: the hidden state that queries the grid, of shape (N, H).
    - A: projected feature grid, of shape (N, H, P, P): an H-vector at each of P*P locations.

    Returns a tuple of:
    - attn: the attention vector, sum over locations of weight * feature vector, of shape (N, H).
    - attn_weights: the softmax weights of the locations, of shape (N, P, P); each sums to 1.
    - cache: (prev_h, A, attn_weights), for dot_product_attention_backward.
    """
    N, H = dims("prev_h", prev_h, "(N, H)")
    P = dims("A", A, "(N, H, P, P)")[2]
    expect("A", A, "(N, H, P, P)", (N, H, P, P), prev_h.dtype)

    A_flat = A.reshape(N, H, P * P)
    # A Python float keeps float32 inputs in float32 (a NumPy float64 scalar would upcast).
    scale = 1 / H ** 0.5
    scores = (prev_h[:, None, :] @ A_flat)[:, 0, :] * scale
    # Shifting by the maximum changes no weight but keeps exp from overflowing.
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    attn = (A_flat @ weights[:, :, None])[:, :, 0]

    attn_weights = weights.reshape(N, P, P)
    cache = (prev_h, A, attn_weights)
    return attn, attn_weights, cache


def dot_product_attention_backward(dattn, cache):
    """Backward pass of dot_product_attention_forward.

    Inputs:
    - dattn: upstream gradient with respect to attn, of shape (N, H).
    - cache: (prev_h, A, attn_weights) from dot_product_attention_forward.

    Returns a tuple of:
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dA: gradient with respect to A, of shape (N, H, P, P).
    """
    prev_h, A, attn_weights = cache
    N, H, P, _ = A.shape
    expect("dattn", dattn, "(N, H)", (N, H), A.dtype)

    A_flat = A.reshape(N, H, P * P)
    weights = attn_weights.reshape(N, P * P)
    scale = 1 / H ** 0.5
    # attn = A w: the grid gets dattn w^T, the weights get A^T dattn.
    dA_flat = dattn[:, :, None] * weights[:, None, :]
    dweights = (dattn[:, None, :] @ A_flat)[:, 0, :]
    # Softmax backward: ds = w * (dw - <w, dw>), then the 1/sqrt(H) scale.
    dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True)) * scale
    dprev_h = (A_flat @ dscores[:, :, None])[:, :, 0]
    dA_flat += prev_h[:, :, None] * dscores[:, None, :]
    return dprev_h, dA_flat.reshape(N, H, P, P)


def attention_lstm_forward(x, A, Wx, Wh, Wattn, b):
    """An LSTM with attention over a feature grid, run over a whole sequence.

    h0 and c0 are both the feature grid averaged over its locations. At step t the attention
    vector attn_t = dot_product_attention(h_{t-1}, A) enters the gates' pre-activation
    through Wattn, as in lstm_step_forward(x_t, h_{t-1}, c_{t-1}, Wx, Wh, b, attn_t, Wattn).

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - A: projected feature grid, of shape (N, H, P, P).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns in the order i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - Wattn: attention-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - cache: values needed by attention_lstm_backward, stored time-major: (xs, A, Wx, Wh,
      Wattn, h0, c0, gates, cs, tanh_cs, hs, attns, attn_caches) with gates (T, N, 4H) after
      the nonlinearities, attns (T, N, H) and one attention cache per step.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    P = dims("A", A, "(N, H, P, P)")[2]
    expect("A", A, "(N, H, P, P)", (N, H, P, P), x.dtype)
    expect("Wx", Wx, "(D, 4H)", (D, 4 * H), x.dtype)
    expect("Wh", Wh, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("Wattn", Wattn, "(H, 4H)", (H, 4 * H), x.dtype)
    expect("b", b, "(4H,)", (4 * H,), x.dtype)

    h0 = A.mean(axis=(2, 3))
    c0 = h0.copy()
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    # One product for the input projection of all steps; the gates are then computed in place.
    gates = (xs.reshape(T * N, D) @ Wx + b).reshape(T, N, 4 * H)
    cs = np.empty((T, N, H), dtype=x.dtype)
    tanh_cs = np.empty((T, N, H), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    attns = np.empty((T, N, H), dtype=x.dtype)
    attn_caches = []
    prev_h, prev_c = h0, c0
    for t in range(T):
        attns[t], _, attn_cache = dot_product_attention_forward(prev_h, A)
        attn_caches.append(attn_cache)
        a = gates[t]
        a += prev_h @ Wh
        a += attns[t] @ Wattn
        sigmoid(a[:, :3 * H], out=a[:, :3 * H])
        np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, prev_c, out=cs[t])
        cs[t] += i * g
        np.tanh(cs[t], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t])
        prev_h, prev_c = hs[t], cs[t]

    h = np.ascontiguousarray(hs.transpose(1, 0, 2))
    cache = (xs, A, Wx, Wh, Wattn, h0, c0, gates, cs, tanh_cs, hs, attns, attn_caches)
    return h, cache


def attention_lstm_backward(dh, cache):
    """Backward pass of attention_lstm_forward.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H).
    - cache: from attention_lstm_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dA: gradient with respect to A, of shape (N, H, P, P); it includes the paths through
      every step's attention and through h0 and c0 (the mean of A).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - dWattn: gradient with respect to Wattn, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    """
    xs, A, Wx, Wh, Wattn, h0, c0, gates, cs, tanh_cs, hs, attns, attn_caches = cache
    T, N, H = hs.shape
    D = xs.shape[2]
    P = A.shape[2]
    expect("dh", dh, "(N, T, H)", (N, T, H), xs.dtype)

    da = np.empty((T, N, 4 * H), dtype=xs.dtype)
    dA = np.zeros_like(A)
    dnext_h = np.zeros_like(h0)
    dnext_c = np.zeros_like(h0)
    for t in reversed(range(T)):
        # The LSTM part, as in lstm_backward.
        i, f, o, g = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        prev_c = cs[t - 1] if t > 0 else c0
        tanh_c = tanh_cs[t]
        dh_t = dh[:, t] + dnext_h
        dc = dnext_c + dh_t * o * (1 - tanh_c * tanh_c)
        da[t, :, :H] = dc * g * i * (1 - i)
        da[t, :, H:2 * H] = dc * prev_c * f * (1 - f)
        da[t, :, 2 * H:3 * H] = dh_t * tanh_c * o * (1 - o)
        da[t, :, 3 * H:] = dc * i * (1 - g * g)
        dnext_c = dc * f
        # h_{t-1} feeds the gates directly and through the attention it queries.
        dprev_h_attn, dA_t = dot_product_attention_backward(da[t] @ Wattn.T, attn_caches[t])
        dA += dA_t
        dnext_h = da[t] @ Wh.T + dprev_h_attn

    # h0 = c0 = mean of A over its P*P locations.
    dA += ((dnext_h + dnext_c) / (P * P))[:, :, None, None]
    da_flat = da.reshape(T * N, 4 * H)
    h_prev = np.concatenate([h0[None], hs[:-1]]).reshape(T * N, H)
    dWx = xs.reshape(T * N, D).T @ da_flat
    dWh = h_prev.T @ da_flat
    dWattn = attns.reshape(T * N, H).T @ da_flat
    db = da_flat.sum(axis=0)
    dx = np.ascontiguousarray((da_flat @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dA, dWx, dWh, dWattn, db
