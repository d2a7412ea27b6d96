"""The recurrent cells behind one interface: pick a cell by name.

`rnnlib.models` and the experiments build their networks from these helpers: `init_cell`
draws one layer's weights, `seq_forward` / `seq_backward` run a layer over a sequence (the
gradients come back in a dict keyed by parameter name, so a loss needs no branch per cell),
and `step` runs one step for sampling. They call the matching rnnlib.layers functions;
nothing here reimplements a layer.

    from rnnlib.cells import init_cell, seq_backward, seq_forward
    p = init_cell(rng, "gru", D, H, np.float64)
    h, _, cache = seq_forward("gru", x, h0, p)
    grads = seq_backward("gru", dh, cache)      # {'x', 'h0', 'Wx', 'Wh', 'b'}
"""

import numpy as np

from rnnlib.layers import (
    attention_lstm_backward,
    attention_lstm_forward,
    dot_product_attention_forward,
    gru_backward,
    gru_forward,
    gru_step_forward,
    lstm_backward,
    lstm_backward_state,
    lstm_forward,
    lstm_forward_state,
    lstm_step_forward,
    peephole_lstm_backward,
    peephole_lstm_forward,
    peephole_lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
)

# Width of the gate pre-activations per hidden unit (the one table; parameter counts use it).
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "peephole": 4, "attention": 4}
# Cells with a memory cell c next to h.
HAS_CELL = ("lstm", "peephole", "attention")


def check_cell_type(cell_type, allowed=tuple(GATES)):
    """Raise ValueError unless `cell_type` is one of `allowed`."""
    if cell_type not in allowed:
        raise ValueError(f"cell_type must be one of {list(allowed)}, got {cell_type!r}")


def init_cell(rng, cell_type, D, H, dtype, forget_bias=0.0):
    """Weights of one recurrent layer, scaled like CS231n: N(0, 1/fan_in), zero biases.

    Inputs:
    - rng: np.random.Generator; Wx is drawn first, then Wh (then Wattn).
    - cell_type: a key of GATES.
    - D, H: input and hidden sizes.
    - dtype: float dtype of the returned arrays.
    - forget_bias: initial bias of the forget gate of the LSTM-family cells (Gers et al.
      2000; Jozefowicz et al. 2015 recommend 1); the other cells ignore it.

    Returns a dict with Wx (D, gH), Wh (H, gH), b (gH,), plus Wp (3, H) for the peephole LSTM
    (zeros: it starts as a plain LSTM) and Wattn (H, 4H) for the attention LSTM.
    """
    g = GATES[cell_type]
    p = {
        "Wx": rng.standard_normal((D, g * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, g * H)) / np.sqrt(H),
        "b": np.zeros(g * H),
    }
    if cell_type in HAS_CELL:
        p["b"][H:2 * H] = forget_bias  # gate order i, f, o, g
    if cell_type == "peephole":
        p["Wp"] = np.zeros((3, H))
    if cell_type == "attention":
        p["Wattn"] = rng.standard_normal((H, g * H)) / np.sqrt(H)
    return {k: v.astype(dtype) for k, v in p.items()}


def seq_forward(cell_type, x, h0, p, c0=None, A=None, need_cell=False):
    """Run one recurrent layer over a sequence.

    Inputs:
    - cell_type: 'rnn', 'gru', 'lstm', 'peephole' or 'attention'.
    - x: (N, T, D) inputs.
    - h0: (N, H) initial hidden state (ignored by 'attention', which starts from A's mean).
    - p: dict with Wx, Wh, b (and Wp or Wattn).
    - c0: (N, H) initial cell state of an LSTM, or None for zeros.
    - A: (N, H, P, P) projected feature grid, for 'attention' only.
    - need_cell: if True, the final cell state of an LSTM is returned too (then
      lstm_forward_state runs instead of the graded lstm_forward, which starts from c = 0
      and keeps the last cell state only inside its cache).

    Returns (h, c_last, cache): h (N, T, H), c_last (N, H) or None, and a cache for
    seq_backward.
    """
    if cell_type == "rnn":
        h, cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        return h, None, cache
    if cell_type == "gru":
        h, cache = gru_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        return h, None, cache
    if cell_type == "attention":
        h, cache = attention_lstm_forward(x, A, p["Wx"], p["Wh"], p["Wattn"], p["b"])
        return h, None, cache
    if c0 is None and not need_cell:
        # Zero initial cell: the graded sequence functions apply.
        if cell_type == "lstm":
            h, cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        else:
            h, cache = peephole_lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"], p["Wp"])
        return h, None, ("seq", cache)
    # A carried cell state (truncated BPTT): the vectorised LSTM that takes c0.
    c0 = np.zeros_like(h0) if c0 is None else c0
    h, c_last, cache = lstm_forward_state(x, h0, c0, p["Wx"], p["Wh"], p["b"], p.get("Wp"))
    return h, c_last, ("state", cache)


def seq_backward(cell_type, dh, cache):
    """Backward pass of seq_forward.

    Inputs:
    - cell_type: as given to seq_forward.
    - dh: (N, T, H) upstream gradient of every hidden state.
    - cache: from seq_forward.

    Returns a dict with the gradients 'x' (N, T, D), 'Wx', 'Wh', 'b' (and 'Wp' or 'Wattn'),
    and 'h0' (N, H), or 'A' (N, H, P, P) for 'attention'. The initial cell state gets no
    gradient: it is either zero or carried from an earlier chunk, where BPTT is truncated.
    """
    if cell_type in ("rnn", "gru"):
        backward = rnn_backward if cell_type == "rnn" else gru_backward
        dx, dh0, dWx, dWh, db = backward(dh, cache)
        return {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}
    if cell_type == "attention":
        dx, dA, dWx, dWh, dWattn, db = attention_lstm_backward(dh, cache)
        return {"x": dx, "A": dA, "Wx": dWx, "Wh": dWh, "Wattn": dWattn, "b": db}
    kind, inner = cache
    if kind == "seq":
        if cell_type == "lstm":
            dx, dh0, dWx, dWh, db = lstm_backward(dh, inner)
            return {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}
        dx, dh0, dWx, dWh, db, dWp = peephole_lstm_backward(dh, inner)
        return {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db, "Wp": dWp}
    dx, dh0, _dc0, dWx, dWh, db, *dWp = lstm_backward_state(dh, inner)
    grads = {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}
    if dWp:
        grads["Wp"] = dWp[0]
    return grads


def step(cell_type, x, prev_h, prev_c, p, A=None):
    """One step of a cell, for sampling: returns (next_h, next_c, attn_weights).

    next_c is None for cells without a memory cell; attn_weights (N, P, P) only for
    'attention', else None.
    """
    if cell_type == "rnn":
        return rnn_step_forward(x, prev_h, p["Wx"], p["Wh"], p["b"])[0], None, None
    if cell_type == "gru":
        return gru_step_forward(x, prev_h, p["Wx"], p["Wh"], p["b"])[0], None, None
    if cell_type == "lstm":
        h, c, _ = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"])
        return h, c, None
    if cell_type == "peephole":
        h, c, _ = peephole_lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"], p["Wp"])
        return h, c, None
    attn, weights, _ = dot_product_attention_forward(prev_h, A)
    h, c, _ = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"], attn, p["Wattn"])
    return h, c, weights


def log_softmax(scores):
    """Row-wise log-softmax of (..., V) scores, stable for large scores."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
