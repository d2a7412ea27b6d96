"""Dropout for recurrent networks: standard (Zaremba et al. 2014) and variational (Gal &
Ghahramani 2016), for the LSTM character model.

Standard dropout for an RNN drops units only on the connections that do not loop: the input of
every recurrent layer and the input of the output layer, with a fresh mask at every time step
(`rnnlib.layers.dropout_forward` on the whole (N, T, D) array). The recurrent path
h_{t-1} -> gates is left alone.

Variational dropout draws one mask per sequence and reuses it at every time step, on the input
x_t of a layer and on the recurrent state h_{t-1} that enters the gates:

    a_t = (x_t * m_x) Wx + (h_{t-1} * m_h) Wh + b,    m_x (N, D), m_h (N, H) fixed over t.

The cell state c and the h passed on to the next layer are not masked (the next layer's input
mask does that). Here a "sequence" is one chunk of truncated BPTT: the masks are drawn again
for every chunk. Gal & Ghahramani also drop whole words of the embedding table (the same word
dropped wherever it occurs in a sequence); for characters that is not done here: the
embedded inputs get the per-sequence mask m_x like any other layer input.

    from rnnlib.rnn_dropout import variational_lstm_forward, variational_lstm_backward
    h, c_last, cache = variational_lstm_forward(x, h0, c0, Wx, Wh, b,
                                                {"p": 0.75, "mode": "train", "seed": 0})
    dx, dh0, dc0, dWx, dWh, db = variational_lstm_backward(dh, cache)

`DropoutCharLSTM` is the character model with the three modes ('none', 'standard',
'variational'), with the loss interface of `rnnlib.models.CharRNN` (stateful truncated BPTT)
so that `rnnlib.training.Trainer` drives it the same way.
"""

import numpy as np

from rnnlib.cells import init_cell, log_softmax, seq_backward, seq_forward
from rnnlib.layers import (
    dropout_backward,
    dropout_forward,
    lstm_step_backward,
    lstm_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnntools.checks import dims, expect, expect_int

__all__ = ["MODES", "DropoutCharLSTM", "sequence_mask", "locked_dropout_backward",
           "locked_dropout_forward", "variational_lstm_backward", "variational_lstm_forward"]

MODES = ("none", "standard", "variational")


def _check_param(dropout_param):
    mode = dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"dropout_param['mode'] must be 'train' or 'test', got {mode!r}")
    return mode == "train" and dropout_param["p"] < 1


def sequence_mask(N, width, dropout_param, dtype=np.float64):
    """One inverted-dropout mask per sequence, to be reused at every time step.

    Inputs:
    - N: number of sequences in the batch.
    - width: number of units the mask covers (D for inputs, H for hidden states).
    - dropout_param: dict with 'p' (the KEEP probability, 0 < p <= 1), 'mode' ('train' or
      'test') and optionally 'seed' (an int: the mask of np.random.default_rng(seed)).
    - dtype: float dtype of the mask.

    Returns a mask of shape (N, width) holding 0 for a dropped unit and 1 / p for a kept one,
    or None in test mode (or when p = 1): no unit is dropped. The mask is the one
    rnnlib.layers.dropout_forward draws for an (N, width) array.
    """
    if not _check_param(dropout_param):
        return None
    ones = np.ones((int(N), int(width)), dtype=dtype)
    return dropout_forward(ones, dropout_param)[1][1]


def _seeds(dropout_param, k):
    """k parameter dicts for k independent masks, derived from dropout_param's seed."""
    rng = np.random.default_rng(dropout_param.get("seed"))
    return [{**dropout_param, "seed": int(rng.integers(2**63))} for _ in range(k)]


def locked_dropout_forward(x, dropout_param):
    """Dropout with one mask per sequence, the same at every time step.

    Inputs:
    - x: sequence of shape (N, T, D).
    - dropout_param: as for sequence_mask ('p' is the keep probability).

    Returns a tuple of:
    - out: x with the units of the (N, D) mask dropped at every step, shape (N, T, D).
    - cache: the mask (N, D), or None in test mode (then out is a copy of x).
    """
    N, _, D = dims("x", x, "(N, T, D)")
    mask = sequence_mask(N, D, dropout_param, x.dtype)
    if mask is None:
        return x.copy(), None
    return x * mask[:, None, :], mask


def locked_dropout_backward(dout, cache):
    """Backward pass of locked_dropout_forward.

    Inputs:
    - dout: upstream gradient, of shape (N, T, D).
    - cache: from locked_dropout_forward.

    Returns dx, of shape (N, T, D).
    """
    if cache is None:
        return dout.copy()
    N, _, D = dims("dout", dout, "(N, T, D)")
    expect("dout[:, 0]", dout[:, 0], "(N, D)", cache.shape, cache.dtype)
    return dout * cache[:, None, :]


def variational_lstm_forward(x, h0, c0, Wx, Wh, b, dropout_param=None):
    """An LSTM over a sequence with variational dropout on its input and recurrent state.

    Two masks are drawn once for the whole sequence, m_x (N, D) and m_h (N, H); step t
    runs rnnlib.layers.lstm_step_forward on x_t * m_x and h_{t-1} * m_h (the state entering
    the gates). The returned h_t are not masked.

    Inputs:
    - x: input sequence, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H).
    - c0: initial cell state, of shape (N, H).
    - Wx: input-to-hidden weights, of shape (D, 4H), gate columns i, f, o, g.
    - Wh: hidden-to-hidden weights, of shape (H, 4H).
    - b: biases, of shape (4H,).
    - dropout_param: dict with 'p' (KEEP probability of every unit), 'mode' ('train' or
      'test') and optionally 'seed' (the two masks then come from it, repeatably); None or
      test mode: no dropout, the plain LSTM from (h0, c0).

    Returns a tuple of:
    - h: hidden states of every time step, of shape (N, T, H).
    - c_last: the cell state after the last step, of shape (N, H).
    - cache: (step caches, m_x, m_h) for variational_lstm_backward; m_x and m_h are None
      when nothing is dropped.
    """
    N, T, D = dims("x", x, "(N, T, D)")
    H = dims("Wh", Wh, "(H, 4H)")[0]
    expect("h0", h0, "(N, H)", (N, H), x.dtype)
    expect("c0", c0, "(N, H)", (N, H), x.dtype)
    mask_x = mask_h = None
    if dropout_param is not None and _check_param(dropout_param):
        px, ph = _seeds(dropout_param, 2)
        mask_x = sequence_mask(N, D, px, x.dtype)
        mask_h = sequence_mask(N, H, ph, x.dtype)
    xs = x if mask_x is None else x * mask_x[:, None, :]
    h = np.empty((N, T, H), dtype=x.dtype)
    steps = []
    prev_h, prev_c = h0, c0
    for t in range(T):
        h_in = prev_h if mask_h is None else prev_h * mask_h
        prev_h, prev_c, cache = lstm_step_forward(xs[:, t], h_in, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(cache)
    return h, prev_c, (steps, mask_x, mask_h)


def variational_lstm_backward(dh, cache, dc_last=None):
    """Backward pass of variational_lstm_forward (BPTT through the masked steps).

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H); dh[:, t] reaches h_t
      from outside the layer, not through step t + 1.
    - cache: from variational_lstm_forward.
    - dc_last: optional upstream gradient of c_last, of shape (N, H); None means zero.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D).
    - dh0: gradient with respect to h0, of shape (N, H).
    - dc0: gradient with respect to c0, of shape (N, H).
    - dWx: gradient with respect to Wx, of shape (D, 4H).
    - dWh: gradient with respect to Wh, of shape (H, 4H).
    - db: gradient with respect to b, of shape (4H,).
    """
    steps, mask_x, mask_h = cache
    T = len(steps)
    x0, prev_h0 = steps[0][0], steps[0][1]
    N, D = x0.shape
    H = prev_h0.shape[1]
    expect("dh", dh, "(N, T, H)", (N, T, H), x0.dtype)
    dx = np.empty((N, T, D), dtype=x0.dtype)
    dnext_h = np.zeros((N, H), dtype=x0.dtype)
    dnext_c = np.zeros_like(dnext_h) if dc_last is None else dc_last
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx_t, dh_in, dnext_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dnext_h, dnext_c, steps[t])
        dx[:, t] = dx_t
        dnext_h = dh_in if mask_h is None else dh_in * mask_h
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    if mask_x is not None:
        dx *= mask_x[:, None, :]
    return dx, dnext_h, dnext_c, dWx, dWh, db


class DropoutCharLSTM:
    """A character-level LSTM language model with no, standard or variational dropout.

    embedding -> L LSTM layers -> affine to V scores, trained with stateful truncated BPTT
    like rnnlib.models.CharRNN (same loss, same state format {'h': (L, N, H), 'c': (L, N, H)},
    same methods loss / eval_loss / evaluate), so rnnlib.training.Trainer drives it as it
    drives CharRNN.

    Inputs:
    - vocab_size: V, number of distinct characters.
    - hidden_dim: H, size of every layer's hidden state.
    - num_layers: L >= 1.
    - mode: 'none' (no dropout), 'standard' (Zaremba et al.: dropout with a fresh mask at
      every step on each layer's input and on the input of the output layer, never on the
      recurrent path) or 'variational' (Gal & Ghahramani: one mask per sequence on each layer's
      input, on its recurrent state h_{t-1} and on the input of the output layer).
    - dropout: probability of DROPPING a unit (as CharRNN; the layer functions take the keep
      probability p = 1 - dropout); ignored in mode 'none'.
    - wordvec_dim: E, width of the character embedding; None means E = V.
    - dtype: np.float32 for training, np.float64 for gradient checks.
    - seed: seeds the weights (drawn as CharRNN draws them) and ``self.rng``, the generator of
      the dropout masks.

    Parameters (self.params): W_embed (V, E); Wx{l} (E or H, 4H), Wh{l} (H, 4H), b{l} (4H,)
    for l = 1..L; W_vocab (H, V), b_vocab (V,).
    """

    def __init__(self, vocab_size, hidden_dim, num_layers=1, mode="none", dropout=0.0,
                 wordvec_dim=None, dtype=np.float32, seed=0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is the drop probability, in [0, 1); got {dropout!r}")
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers!r}")
        self.vocab_size = V = int(vocab_size)
        self.hidden_dim = H = int(hidden_dim)
        self.wordvec_dim = E = V if wordvec_dim is None else int(wordvec_dim)
        self.num_layers, self.mode = int(num_layers), mode
        self.dropout = 0.0 if mode == "none" else float(dropout)
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        init_rng = np.random.default_rng(seed)
        params = {"W_embed": init_rng.standard_normal((V, E))}
        for layer in range(1, self.num_layers + 1):
            D = E if layer == 1 else H
            for k, v in init_cell(init_rng, "lstm", D, H, np.float64).items():
                params[f"{k}{layer}"] = v
        params["W_vocab"] = init_rng.standard_normal((H, V)) / np.sqrt(H)
        params["b_vocab"] = np.zeros(V)
        self.params = {k: v.astype(self.dtype) for k, v in params.items()}

    def init_state(self, N):
        """The zero state for N streams, in the format ``loss`` returns."""
        shape = (self.num_layers, N, self.hidden_dim)
        return {"h": np.zeros(shape, self.dtype), "c": np.zeros(shape, self.dtype)}

    def _param(self, train):
        """A dropout_param with a fresh seed from self.rng, or None when nothing drops."""
        if not (train and self.dropout > 0):
            return None
        return {"p": 1.0 - self.dropout, "mode": "train",
                "seed": int(self.rng.integers(2**63))}

    def _forward(self, x, h0, train):
        expect_int("x", x, upper=self.vocab_size)
        N = x.shape[0]
        state = self.init_state(N) if h0 is None else h0
        inp, embed_cache = word_embedding_forward(x, self.params["W_embed"])
        caches, h_last, c_last = [], [], []
        for layer in range(1, self.num_layers + 1):
            p = {k: self.params[f"{k}{layer}"] for k in ("Wx", "Wh", "b")}
            h0_l = state["h"][layer - 1].astype(self.dtype, copy=False)
            c0_l = state["c"][layer - 1].astype(self.dtype, copy=False)
            param = self._param(train)
            drop = None
            if self.mode == "variational":
                h, c, cache = variational_lstm_forward(inp, h0_l, c0_l, p["Wx"], p["Wh"],
                                                       p["b"], param)
            else:
                if param is not None:  # standard: a fresh mask at every step
                    inp, drop = dropout_forward(inp, param)
                h, c, cache = seq_forward("lstm", inp, h0_l, p, c0=c0_l, need_cell=True)
            caches.append((cache, drop))
            h_last.append(h[:, -1])
            c_last.append(c)
            inp = h
        param, out_drop = self._param(train), None
        if param is not None:
            if self.mode == "variational":
                inp, out_drop = locked_dropout_forward(inp, param)
            else:
                inp, out_drop = dropout_forward(inp, param)
        scores, vocab_cache = temporal_affine_forward(inp, self.params["W_vocab"],
                                                      self.params["b_vocab"])
        state = {"h": np.stack(h_last), "c": np.stack(c_last)}
        return scores, state, (embed_cache, caches, out_drop, vocab_cache)

    def loss(self, x, y, h0=None, mode="train"):
        """Mean cross-entropy per character and its gradients on one chunk.

        Inputs:
        - x: integer array of shape (N, T), input character ids.
        - y: integer array of shape (N, T), the targets (x shifted by one character).
        - h0: state from the previous chunk of the same streams, or None for zeros.
        - mode: 'train' (dropout as the model's mode says) or 'test' (no dropout).

        Returns (loss, grads, state): mean nats per character (a float), the gradient of
        every parameter keyed like self.params, and the state after the last step (the next
        chunk's h0; no gradient flows back through it: truncated BPTT).
        """
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        expect_int("y", y, upper=self.vocab_size)
        scores, state, (embed_cache, caches, out_drop, vocab_cache) = self._forward(
            x, h0, mode == "train")
        N, T = y.shape
        loss, dscores = temporal_softmax_loss(scores, y, np.ones((N, T), dtype=bool))
        loss /= T
        dscores /= self.dtype.type(T)
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        if out_drop is not None:
            dh = (locked_dropout_backward(dh, out_drop) if self.mode == "variational"
                  else dropout_backward(dh, out_drop))
        for layer in range(self.num_layers, 0, -1):
            cache, drop = caches[layer - 1]
            if self.mode == "variational":
                dh, _, _, dWx, dWh, db = variational_lstm_backward(dh, cache)
                g = {"Wx": dWx, "Wh": dWh, "b": db}
            else:
                g = seq_backward("lstm", dh, cache)
                dh = g.pop("x")
                g.pop("h0")
                if drop is not None:
                    dh = dropout_backward(dh, drop)
            for k, v in g.items():
                grads[f"{k}{layer}"] = v
        grads["W_embed"] = word_embedding_backward(dh, embed_cache)
        return float(loss), grads, state

    def eval_loss(self, x, y, h0=None):
        """Mean nats per character on one chunk without dropout or gradients: (loss, state)."""
        scores, state, _ = self._forward(x, h0, False)
        logp = log_softmax(scores.astype(np.float64))
        return float(-np.take_along_axis(logp, y[..., None], axis=-1).mean()), state

    def evaluate(self, streams, seq_len):
        """Mean nats per character on (N, L) contiguous streams, the state carried along.

        Inputs:
        - streams: int array of shape (N, L), e.g. from rnnlib.data.streams.
        - seq_len: T, characters per forward call.

        Returns a Python float (test mode: no dropout).
        """
        state, total, count = None, 0.0, 0
        L = streams.shape[1]
        for s in range(0, L - 1, seq_len):
            e = min(s + seq_len, L - 1)
            x, y = streams[:, s:e], streams[:, s + 1:e + 1]
            loss, state = self.eval_loss(x, y, state)
            total += loss * y.size
            count += y.size
        return total / count
