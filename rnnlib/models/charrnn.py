"""CharRNN: a character-level language model trained with truncated BPTT.

Input: every character id goes through an embedding table W_embed (V, E). With the default
E = V this is exactly as expressive as a one-hot input times a (V, V) matrix (looking up a
row is that product), without building the one-hot vectors. Then 1 or more recurrent layers
(rnn, lstm, peephole or gru), inverted dropout on the output of every recurrent layer (so
between layers and before the output layer) in training mode, and an affine layer to scores
over the V characters.

The loss is the mean cross-entropy per character, in nats: the sum over the N*T predicted
characters of -log p(target), divided by N*T. (temporal_softmax_loss divides by N; the model
divides by T as well, gradients included, so the loss does not grow with the chunk length and
compares directly with a validation loss or with log(V) for a uniform guess.) Bits per
character are loss / log(2), perplexity exp(loss).

State: ``loss`` returns the state at the end of the chunk as a dict of arrays,
``{"h": (L, N, H)}`` for rnn/gru and ``{"h": (L, N, H), "c": (L, N, H)}`` for lstm/peephole
(L layers, like PyTorch's (h_n, c_n)). Pass it back as ``h0`` with the next chunk of the same
streams: the forward pass continues where it stopped while gradients stop at the chunk
boundary (truncated BPTT). ``h0=None`` starts from zeros.
"""

import numpy as np

from rnnlib.cells import (
    HAS_CELL,
    check_cell_type,
    init_cell,
    log_softmax,
    seq_backward,
    seq_forward,
    step,
)
from rnnlib.layers import (
    dropout_backward,
    dropout_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnntools.checks import expect_int

__all__ = ["CharRNN"]

CELL_TYPES = ("rnn", "lstm", "peephole", "gru")
_LAYER_PARAMS = ("Wx", "Wh", "b", "Wp")


class CharRNN:
    """A character-level recurrent language model.

    Inputs:
    - vocab_size: V, number of distinct characters.
    - hidden_dim: H, size of every recurrent layer's hidden state.
    - cell_type: 'rnn', 'lstm', 'peephole' or 'gru'.
    - num_layers: L, number of stacked recurrent layers (>= 1).
    - dropout: probability of DROPPING a unit (as PyTorch's nn.Dropout; the layer function
      dropout_forward takes the keep probability p = 1 - dropout), applied in training mode
      to the output of every recurrent layer. 0 disables dropout.
    - dtype: np.float32 for training, np.float64 for gradient checks.
    - seed: seeds the weight initialisation and ``self.rng``, the generator of the dropout
      masks (the Solver saves and restores it with checkpoints).
    - wordvec_dim: E, width of the character embedding; None means E = V (see module doc).
    - fused: for cell_type 'lstm', compute ``loss`` and ``eval_loss`` with
      rnnlib.fused_lstm.FusedCharLSTM (the same function on reused buffers, faster; tested
      to agree with the layer functions). False runs the graded layers of rnnlib.layers,
      as every other cell does; ``forward`` and ``sample`` always do.

    Parameters (self.params): W_embed (V, E); for each layer l = 1..L: Wx{l} (E or H, gH),
    Wh{l} (H, gH), b{l} (gH,), and Wp{l} (3, H) for the peephole LSTM, where g = 1 (rnn),
    3 (gru), 4 (lstm, peephole); W_vocab (H, V), b_vocab (V,).
    """

    def __init__(self, vocab_size, hidden_dim, cell_type="lstm", num_layers=1, dropout=0.0,
                 dtype=np.float32, seed=0, wordvec_dim=None, fused=True):
        check_cell_type(cell_type, CELL_TYPES)
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is the drop probability, in [0, 1); got {dropout!r}")
        self.vocab_size = V = int(vocab_size)
        self.hidden_dim = H = int(hidden_dim)
        self.wordvec_dim = E = V if wordvec_dim is None else int(wordvec_dim)
        self.cell_type = cell_type
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

        init_rng = np.random.default_rng(seed)
        # N(0, 1) as torch's nn.Embedding: a lookup has no fan-in to scale by, and the smaller
        # N(0, 1/E) starved the first layer of input (measured: 0.1-0.2 nats/char worse at equal
        # steps, because Adam grows small weights no faster than large ones).
        params = {"W_embed": init_rng.standard_normal((V, E))}
        for layer in range(1, self.num_layers + 1):
            D = E if layer == 1 else H
            for k, v in init_cell(init_rng, cell_type, D, H, np.float64).items():
                params[f"{k}{layer}"] = v
        params["W_vocab"] = init_rng.standard_normal((H, V)) / np.sqrt(H)
        params["b_vocab"] = np.zeros(V)
        self.params = {k: v.astype(self.dtype) for k, v in params.items()}
        self.fused = None
        if fused and cell_type == "lstm":
            from rnnlib.fused_lstm import FusedCharLSTM

            self.fused = FusedCharLSTM(self)

    def _layer(self, layer):
        return {k: self.params[f"{k}{layer}"] for k in _LAYER_PARAMS
                if f"{k}{layer}" in self.params}

    def init_state(self, N):
        """The zero state for N streams, in the format ``loss`` returns."""
        shape = (self.num_layers, N, self.hidden_dim)
        state = {"h": np.zeros(shape, dtype=self.dtype)}
        if self.cell_type in HAS_CELL:
            state["c"] = np.zeros(shape, dtype=self.dtype)
        return state

    def _check_state(self, h0, N):
        if h0 is None:
            return self.init_state(N)
        if not isinstance(h0, dict) or "h" not in h0:
            raise ValueError("h0 must be None or a state dict {'h': (L, N, H)[, 'c': ...]}")
        shape = (self.num_layers, N, self.hidden_dim)
        keys = ("h", "c") if self.cell_type in HAS_CELL else ("h",)
        state = {}
        for k in keys:
            if k not in h0:
                raise ValueError(f"h0 must have the key '{k}' for cell_type {self.cell_type!r}")
            v = np.asarray(h0[k])
            if v.shape != shape:
                raise ValueError(f"h0['{k}'] must have shape (L, N, H) = {shape}, got {v.shape}")
            state[k] = v.astype(self.dtype, copy=False)
        return state

    def _check_ids(self, name, ids):
        expect_int(name, ids, upper=self.vocab_size)
        if ids.ndim != 2:
            raise ValueError(f"{name} must have shape (N, T), got {ids.shape}")

    def _check_pair(self, x, y):
        self._check_ids("x", x)
        self._check_ids("y", y)
        if y.shape != x.shape:
            raise ValueError(f"y must have the shape of x {x.shape}, got {y.shape}")

    def _forward(self, x, h0, mode):
        """Scores (N, T, V), the final state, and the caches for _backward."""
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        self._check_ids("x", x)
        N = x.shape[0]
        state = self._check_state(h0, N)
        use_dropout = mode == "train" and self.dropout > 0
        inp, embed_cache = word_embedding_forward(x, self.params["W_embed"])
        caches, h_last, c_last, hidden = [], [], [], []
        for layer in range(1, self.num_layers + 1):
            c0 = state["c"][layer - 1] if self.cell_type in HAS_CELL else None
            h, c, cache = seq_forward(self.cell_type, inp, state["h"][layer - 1],
                                      self._layer(layer), c0=c0, need_cell=c0 is not None)
            hidden.append(h)
            h_last.append(h[:, -1])
            c_last.append(c)
            drop_cache = None
            if use_dropout:
                # A fresh seed from the model's generator: the mask is random but repeatable
                # from the generator's state (which checkpoints keep).
                param = {"p": 1.0 - self.dropout, "mode": "train",
                         "seed": int(self.rng.integers(2**63))}
                h, drop_cache = dropout_forward(h, param)
            caches.append((cache, drop_cache))
            inp = h
        scores, vocab_cache = temporal_affine_forward(inp, self.params["W_vocab"],
                                                      self.params["b_vocab"])
        new_state = {"h": np.stack(h_last)}
        if self.cell_type in HAS_CELL:
            new_state["c"] = np.stack(c_last)
        return scores, new_state, (embed_cache, caches, vocab_cache), hidden

    def forward(self, x, h0=None, mode="test", return_hidden=False):
        """Scores for every position of x, without gradients (evaluation, sampling, plots).

        Inputs:
        - x: integer array of shape (N, T), character ids.
        - h0: state from a previous chunk, or None for zeros.
        - mode: 'test' (no dropout) or 'train'.
        - return_hidden: also return the hidden states of every layer at every step.

        Returns a tuple of:
        - scores: array of shape (N, T, V), unnormalised log-probabilities of the next char.
        - state: the state after the last step (see the module docstring).
        - hidden (only if return_hidden): list of L arrays of shape (N, T, H), layer l's
          hidden state h_t at every step (before dropout), e.g. to plot what a unit tracks.
        """
        scores, state, _, hidden = self._forward(x, h0, mode)
        if return_hidden:
            return scores, state, hidden
        return scores, state

    def loss(self, x, y, h0=None, mode="train"):
        """Mean cross-entropy per character and its gradients on one chunk.

        Inputs:
        - x: integer array of shape (N, T), input character ids.
        - y: integer array of shape (N, T), the target ids (x shifted by one character).
        - h0: state from the previous chunk of the same streams, or None for zeros.
        - mode: 'train' (dropout on, if any) or 'test' (dropout off).

        Returns a tuple of:
        - loss: mean nats per character, a Python float.
        - grads: dict with the gradient of every parameter, keyed like self.params.
        - state: the state after the last step, to pass as h0 with the next chunk.
        """
        self._check_pair(x, y)
        if self.fused is not None:
            if mode not in ("train", "test"):
                raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
            return self.fused.loss(x, y, self._check_state(h0, x.shape[0]), mode == "train")
        scores, state, (embed_cache, caches, vocab_cache), _ = self._forward(x, h0, mode)
        N, T = y.shape
        loss, dscores = temporal_softmax_loss(scores, y, np.ones((N, T), dtype=bool))
        loss /= T
        dscores /= self.dtype.type(T)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        for layer in range(self.num_layers, 0, -1):
            cache, drop_cache = caches[layer - 1]
            if drop_cache is not None:
                dh = dropout_backward(dh, drop_cache)
            g = seq_backward(self.cell_type, dh, cache)
            dh = g.pop("x")
            g.pop("h0")  # truncated BPTT: the carried state is a constant
            for k, v in g.items():
                grads[f"{k}{layer}"] = v
        grads["W_embed"] = word_embedding_backward(dh, embed_cache)
        return loss, grads, state

    def eval_loss(self, x, y, h0=None):
        """Mean nats per character on one chunk in test mode, without gradients.

        Inputs and normalisation as ``loss`` (divided by N*T). Returns (loss, state).
        """
        self._check_pair(x, y)
        if self.fused is not None:  # time-major scores (T*N, V)
            scores, state = self.fused.forward(x, self._check_state(h0, x.shape[0]), False)
            y = y.T.reshape(-1, 1)
        else:
            scores, state = self.forward(x, h0, mode="test")
            y = y[..., None]
        logp = log_softmax(scores.astype(np.float64))
        return float(-np.take_along_axis(logp, y, axis=-1).mean()), state

    def flatten_state(self, state):
        """A state dict as a list of arrays, [h] or [h, c] (for checkpoints)."""
        if state is None:
            return None
        return [state[k] for k in ("h", "c") if k in state]

    def unflatten_state(self, flat):
        """Inverse of flatten_state."""
        if flat is None:
            return None
        keys = ("h", "c") if self.cell_type in HAS_CELL else ("h",)
        if len(flat) != len(keys):
            raise ValueError(f"flat must hold {len(keys)} arrays for cell_type "
                             f"{self.cell_type!r}, got {len(flat)}")
        return {k: np.asarray(v) for k, v in zip(keys, flat, strict=True)}

    def evaluate(self, ids, batch_size=32, seq_len=100):
        """Mean nats per character of the model on a sequence (test mode, state carried).

        The sequence is cut as rnnlib.data.BPTTBatcher cuts it (N contiguous streams, chunks
        of T steps, the remainder dropped), so every stream is read from its start with the
        state carried along, as in training.

        Inputs:
        - ids: 1-d integer array of character ids.
        - batch_size: N, number of parallel streams.
        - seq_len: T, steps per forward call (only memory depends on it).

        Returns a Python float.
        """
        from rnnlib.data import BPTTBatcher

        batcher = BPTTBatcher(ids, batch_size, seq_len)
        total, count, state = 0.0, 0, None
        for x, y in batcher:
            loss, state = self.eval_loss(x, y, state)
            total += loss * y.size
            count += y.size
        return total / count

    def sample(self, start, n, temperature=1.0, state=None, rng=None, return_state=False):
        """Generate n characters, one at a time, feeding each back as the next input.

        Inputs:
        - start: an int id or a 1-d sequence of ids (a prime); the prime is read first and
          sampling continues after its last character.
        - n: number of characters to generate.
        - temperature: scores are divided by it before the softmax; < 1 sharpens, > 1
          flattens; 0 means greedy (always the most likely character).
        - state: a state for one stream ({'h': (L, 1, H), ...}) to start from, or None.
        - rng: a np.random.Generator or an int seed; None draws a fresh unseeded generator.
        - return_state: also return the state before the last generated character is read,
          so that ``sample(ids[-1], m, state=state)`` continues the same text.

        Returns an int64 array of shape (n,), the generated ids (the prime not included),
        or (ids, state) if return_state.
        """
        prime = np.atleast_1d(np.asarray(start))
        if prime.ndim != 1 or prime.size == 0:
            raise ValueError(f"start must be an id or a non-empty 1-d sequence of ids, "
                             f"got shape {prime.shape}")
        expect_int("start", prime, upper=self.vocab_size)
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        st = self._check_state(state, 1)
        hs = list(st["h"])
        cs = list(st["c"]) if "c" in st else [None] * self.num_layers
        W_embed, W_vocab, b_vocab = (self.params[k] for k in ("W_embed", "W_vocab", "b_vocab"))

        def advance(char):
            inp = W_embed[[char]]
            for layer in range(self.num_layers):
                hs[layer], cs[layer], _ = step(self.cell_type, inp, hs[layer], cs[layer],
                                               self._layer(layer + 1))
                inp = hs[layer]
            return (inp @ W_vocab + b_vocab)[0].astype(np.float64)

        for char in prime.tolist():
            scores = advance(char)
        out = np.empty(int(n), dtype=np.int64)
        for i in range(int(n)):
            if temperature == 0:
                char = int(np.argmax(scores))
            else:
                probs = np.exp(log_softmax(scores / temperature))
                char = int(rng.choice(self.vocab_size, p=probs / probs.sum()))
            out[i] = char
            if i + 1 < n:
                scores = advance(char)
        if return_state:
            new_state = {"h": np.stack(hs)}
            if self.cell_type in HAS_CELL:
                new_state["c"] = np.stack(cs)
            return out, new_state
        return out
