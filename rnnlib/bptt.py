"""Truncated backpropagation through time and how gradients fade with distance (vanilla RNN).

Both functions run the vanilla RNN of ``rnnlib.layers.rnn``; they only use its public forward
and backward functions, so a student who wrote those can run these too.
"""

import numpy as np

from rnnlib.layers.rnn import rnn_backward, rnn_forward
from rnntools.checks import dims, expect


def truncated_bptt(x, h0, Wx, Wh, b, dh, chunk):
    """Weight gradients of a vanilla RNN by truncated backpropagation through time.

    The sequence is cut into consecutive chunks of `chunk` steps (the last one may be shorter).
    Each chunk runs forward from the last hidden state of the previous chunk (the state is
    carried, so the hidden states are exactly those of one run over the whole sequence), but
    its backward pass stops at the chunk's first step: no gradient flows into the carried
    state. The weight gradients of all chunks are summed.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, H).
    - Wh: hidden-to-hidden weights, of shape (H, H).
    - b: biases, of shape (H,).
    - dh: upstream gradients of all hidden states, of shape (N, T, H).
    - chunk: positive int, the truncation length. chunk >= T gives full BPTT.

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - dWx: gradient with respect to Wx, of shape (D, H).
    - dWh: gradient with respect to Wh, of shape (H, H).
    - db: gradient with respect to b, of shape (H,).
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, H)")[0]
    expect("dh", dh, "(N, T, H)", (N, T, H), x.dtype)
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")

    h = np.empty((N, T, H), dtype=x.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    prev_h = h0
    for start in range(0, T, chunk):
        stop = min(start + chunk, T)
        h[:, start:stop], cache = rnn_forward(x[:, start:stop], prev_h, Wx, Wh, b)
        _, _, dWx_k, dWh_k, db_k = rnn_backward(dh[:, start:stop], cache)
        dWx += dWx_k
        dWh += dWh_k
        db += db_k
        # The next chunk starts from this state, but treats it as a constant input.
        prev_h = h[:, stop - 1]
    return h, dWx, dWh, db


def gradient_norm_by_distance(x, h0, Wx, Wh, b, dlast):
    """How the gradient of a loss at the last step shrinks or grows on its way back in time.

    The loss depends on the last hidden state only, with upstream gradient `dlast`; the
    function backpropagates it through the RNN and measures the gradient with respect to every
    earlier hidden state.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, H).
    - Wh: hidden-to-hidden weights, of shape (H, H).
    - b: biases, of shape (H,).
    - dlast: gradient of the loss with respect to h_{T-1}, of shape (N, H).

    Returns:
    - norms: array of shape (T,); norms[k] is the Euclidean norm (over all N*H entries) of the
      gradient of the loss with respect to h_{T-1-k}, the hidden state k steps before the last.
      norms[0] is the norm of dlast.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, H)")[0]
    expect("dlast", dlast, "(N, H)", (N, H), x.dtype)

    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    norms = np.empty(T, dtype=x.dtype)
    grad = dlast
    for k in range(T):
        t = T - 1 - k
        norms[k] = np.sqrt(np.sum(grad * grad))
        # Through h_t = tanh(a_t), a_t = x_t Wx + h_{t-1} Wh + b, back to h_{t-1}.
        grad = (grad * (1 - h[:, t] * h[:, t])) @ Wh.T
    return norms
