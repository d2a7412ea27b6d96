"""Deep (stacked) and bidirectional recurrent layers, built from the cells of rnnlib.cells.

A **stacked** RNN feeds the hidden states of layer l, at every step, as the inputs of layer
l + 1; the top layer's states are the output. A **bidirectional** layer runs one RNN forwards
over the sequence and a second, with its own weights, backwards (on the time-reversed input),
and puts the two states of each step side by side, so the output at step t summarises both
x_1..x_t and x_t..x_T (Schuster & Paliwal, 1997). A deep bidirectional RNN stacks
bidirectional layers: layer l + 1 reads the 2H-wide outputs of layer l.

CS231n style: `*_forward(...) -> (out, cache)` and `*_backward(dout, cache)`. The sequences of
a batch all have length T: the backward direction starts at step T, so a padded sequence would
have it read the padding first (mask the loss instead, or bucket by length).

    from rnnlib.deep_rnn import stacked_forward, stacked_backward
    layers = [init_layer(rng, "gru", D, H, np.float64, bidirectional=True),
              init_layer(rng, "gru", 2 * H, H, np.float64, bidirectional=True)]
    out, cache = stacked_forward("gru", x, np.zeros((2, 2, N, H)), layers)   # (N, T, 2H)
    dx, dh0, grads = stacked_backward("gru", dout, cache)
"""

import numpy as np

from rnnlib.cells import init_cell, seq_backward, seq_forward

# The cells a deep or bidirectional layer can use (the image-attention cell reads a feature
# grid, not a sequence of inputs alone).
CELLS = ("rnn", "gru", "lstm", "peephole")


def _check_cell(cell_type):
    if cell_type not in CELLS:
        raise ValueError(f"cell_type must be one of {list(CELLS)}, got {cell_type!r}")


def init_layer(rng, cell_type, D, H, dtype, bidirectional=False, forget_bias=0.0):
    """Weights of one layer: a cell's dict (rnnlib.cells.init_cell), or for a bidirectional
    layer {"fwd": dict, "bwd": dict}, the forward direction drawn first."""
    _check_cell(cell_type)
    if not bidirectional:
        return init_cell(rng, cell_type, D, H, dtype, forget_bias)
    return {direction: init_cell(rng, cell_type, D, H, dtype, forget_bias)
            for direction in ("fwd", "bwd")}


def bidirectional_forward(cell_type, x, h0, p):
    """A forward and a backward RNN over a sequence, their states side by side.

    Inputs:
    - cell_type: one of CELLS.
    - x: array of shape (N, T, D), the inputs.
    - h0: array of shape (2, N, H), the initial hidden states of the forward direction
      (before step 1) and of the backward direction (after step T).
    - p: {"fwd": params, "bwd": params}, each a cell's dict (Wx (D, gH), Wh (H, gH), b (gH,)).

    Returns a tuple of:
    - out: array of shape (N, T, 2H); out[:, t, :H] is the forward state after reading x_1..x_t,
      out[:, t, H:] the backward state after reading x_T..x_t.
    - cache: for bidirectional_backward.
    """
    _check_cell(cell_type)
    h_fwd, _, cache_fwd = seq_forward(cell_type, x, h0[0], p["fwd"])
    h_bwd, _, cache_bwd = seq_forward(cell_type, x[:, ::-1], h0[1], p["bwd"])
    out = np.concatenate([h_fwd, h_bwd[:, ::-1]], axis=2)
    return out, (cache_fwd, cache_bwd, h_fwd.shape[2])


def bidirectional_backward(cell_type, dout, cache):
    """Backward pass of bidirectional_forward.

    Inputs:
    - cell_type: as given to bidirectional_forward.
    - dout: array of shape (N, T, 2H), the upstream gradient of out.
    - cache: from bidirectional_forward.

    Returns a tuple of:
    - dx: array of shape (N, T, D).
    - dh0: array of shape (2, N, H).
    - grads: {"fwd": dict, "bwd": dict} of the parameter gradients (keys as in p).
    """
    cache_fwd, cache_bwd, H = cache
    g_fwd = seq_backward(cell_type, dout[:, :, :H], cache_fwd)
    g_bwd = seq_backward(cell_type, dout[:, ::-1, H:], cache_bwd)
    dx = g_fwd.pop("x") + g_bwd.pop("x")[:, ::-1]
    dh0 = np.stack([g_fwd.pop("h0"), g_bwd.pop("h0")])
    return dx, dh0, {"fwd": g_fwd, "bwd": g_bwd}


def stacked_forward(cell_type, x, h0, layers):
    """L recurrent layers, each reading the hidden states of the one below.

    Inputs:
    - cell_type: one of CELLS.
    - x: array of shape (N, T, D), the inputs of the first layer.
    - h0: array of shape (L, N, H) for unidirectional layers, or (L, 2, N, H) for
      bidirectional ones: each layer's initial state(s).
    - layers: list of L weight dicts (init_layer); layer 1 reads D-wide inputs, layer l > 1 the
      H-wide (or 2H-wide, bidirectional) outputs of layer l - 1. All layers are bidirectional
      or none is.

    Returns a tuple of:
    - out: array of shape (N, T, H) or (N, T, 2H), the top layer's states.
    - cache: for stacked_backward.
    """
    _check_cell(cell_type)
    if len(h0) != len(layers):
        raise ValueError(f"h0 has {len(h0)} layers' states, layers has {len(layers)}")
    bidirectional = "fwd" in layers[0]
    caches, inp = [], x
    for h0_l, p in zip(h0, layers, strict=True):
        if bidirectional:
            inp, cache = bidirectional_forward(cell_type, inp, h0_l, p)
        else:
            inp, _, cache = seq_forward(cell_type, inp, h0_l, p)
        caches.append(cache)
    return inp, (caches, bidirectional)


def stacked_backward(cell_type, dout, cache):
    """Backward pass of stacked_forward.

    Inputs:
    - cell_type: as given to stacked_forward.
    - dout: array of shape (N, T, H) or (N, T, 2H), the upstream gradient of out.
    - cache: from stacked_forward.

    Returns a tuple of:
    - dx: array of shape (N, T, D).
    - dh0: array of the shape of h0.
    - grads: list of L gradient dicts, each shaped like its layer's weights.
    """
    caches, bidirectional = cache
    dh0, grads = [None] * len(caches), [None] * len(caches)
    for layer in reversed(range(len(caches))):
        if bidirectional:
            dout, dh0[layer], grads[layer] = bidirectional_backward(cell_type, dout,
                                                                    caches[layer])
        else:
            g = seq_backward(cell_type, dout, caches[layer])
            dout, dh0[layer] = g.pop("x"), g.pop("h0")
            grads[layer] = g
    return dout, np.stack(dh0), grads
