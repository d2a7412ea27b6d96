"""CaptioningRNN: image features in, a caption out (CS231n assignment 3's model).

The image feature vector is projected to the initial hidden state h0; the caption's words,
embedded, are the inputs; an affine layer turns every hidden state into scores over the
vocabulary. With cell_type='attention' the features are a (D, P, P) grid instead: a 1x1
convolution (the same (D, H) matrix applied at every location) projects it to A (N, H, P, P),
the LSTM starts from A's spatial mean and attends over A at every step.
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
    affine_backward,
    affine_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnntools.checks import expect_int

__all__ = ["CaptioningRNN", "decode_captions"]

CELL_TYPES = ("rnn", "lstm", "peephole", "gru", "attention")
_CELL_PARAMS = ("Wx", "Wh", "b", "Wp", "Wattn")


class CaptioningRNN:
    """An image-captioning RNN with the CS231n interface.

    Inputs:
    - word_to_idx: dict giving every word of the vocabulary its index in [0, V), where
      V = len(word_to_idx). It must contain '<NULL>' (padding, ignored by the loss); sample
      and beam_search also need '<START>', and decoding stops at '<END>' when present.
    - input_dim: D, size of an image feature vector (of a grid's channel for 'attention').
    - wordvec_dim: W, size of the word vectors.
    - hidden_dim: H, size of the hidden state.
    - cell_type: 'rnn', 'lstm', 'peephole', 'gru' or 'attention'.
    - dtype: np.float32 for training, np.float64 for gradient checks.
    - seed: seed of the weight initialisation (np.random.default_rng).

    Parameters (self.params): W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, gH),
    Wh (H, gH), b (gH,), W_vocab (H, V), b_vocab (V,), where g = 1 (rnn), 3 (gru) or 4
    (the LSTMs); the peephole LSTM adds Wp (3, H), the attention LSTM Wattn (H, 4H).
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, seed=0):
        check_cell_type(cell_type, CELL_TYPES)
        if "<NULL>" not in word_to_idx:
            raise ValueError("word_to_idx must contain '<NULL>'")
        self.cell_type = cell_type
        self.dtype = np.dtype(dtype)
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        V = len(word_to_idx)
        D, W, H = input_dim, wordvec_dim, hidden_dim
        self.input_dim, self.wordvec_dim, self.hidden_dim = D, W, H

        rng = np.random.default_rng(seed)
        params = {
            "W_embed": rng.standard_normal((V, W)) / 100,
            "W_proj": rng.standard_normal((D, H)) / np.sqrt(D),
            "b_proj": np.zeros(H),
        }
        params.update(init_cell(rng, cell_type, W, H, np.float64))
        params["W_vocab"] = rng.standard_normal((H, V)) / np.sqrt(H)
        params["b_vocab"] = np.zeros(V)
        self.params = {k: v.astype(self.dtype) for k, v in params.items()}

    # ------------------------------------------------------------------ helpers
    def _features(self, features):
        """Check the features' shape; cast them to the model's dtype."""
        arr = np.asarray(features)
        D = self.input_dim
        if self.cell_type == "attention":
            if arr.ndim != 4 or arr.shape[1] != D or arr.shape[2] != arr.shape[3]:
                raise ValueError(
                    f"features must have shape (N, D, P, P) with D = {D}, got {arr.shape}"
                )
        elif arr.ndim != 2 or arr.shape[1] != D:
            raise ValueError(f"features must have shape (N, D) with D = {D}, got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"features must be a float array, got dtype {arr.dtype}")
        return arr.astype(self.dtype, copy=False)

    def _project(self, features):
        """Initial state (h0, c0, A) and a cache for the projection's backward pass."""
        p = self.params
        if self.cell_type == "attention":
            # A 1x1 convolution: the same (D, H) map at every location of the grid.
            A = np.einsum("ndpq,dh->nhpq", features, p["W_proj"], optimize=True)
            A += p["b_proj"][None, :, None, None]
            h0 = A.mean(axis=(2, 3))
            return h0, h0.copy(), A, features
        h0, cache = affine_forward(features, p["W_proj"], p["b_proj"])
        c0 = np.zeros_like(h0) if self.cell_type in HAS_CELL else None
        return h0, c0, None, cache

    def _cell_params(self):
        return {k: self.params[k] for k in _CELL_PARAMS if k in self.params}

    # ------------------------------------------------------------------ training
    def loss(self, features, captions):
        """Loss and gradients on a minibatch of images and their captions.

        The inputs of the RNN are captions[:, :-1] and its targets captions[:, 1:]: it learns
        to predict every word from the words before it. Target positions holding <NULL> do not
        count. The loss is the sum of -log p(word) over the counted positions divided by N.

        Inputs:
        - features: image features, of shape (N, D), or (N, D, P, P) for 'attention'.
        - captions: integer captions of shape (N, T), each entry in [0, V).

        Returns a tuple of:
        - loss: a Python float.
        - grads: dict with the gradient of every parameter, keyed like self.params.
        """
        features = self._features(features)
        N = features.shape[0]
        V = self.params["W_embed"].shape[0]
        expect_int("captions", captions, upper=V)
        if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
            raise ValueError(
                f"captions must have shape (N, T) with N = {N} and T >= 2, "
                f"got {captions.shape}"
            )
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null
        p = self.params

        h0, _, A, proj_cache = self._project(features)
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        h, _, rnn_cache = seq_forward(self.cell_type, x, h0, self._cell_params(), A=A)
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        cell_grads = seq_backward(self.cell_type, dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(cell_grads.pop("x"), embed_cache)
        if self.cell_type == "attention":
            dA = cell_grads.pop("A")
            grads["W_proj"] = np.einsum("ndpq,nhpq->dh", features, dA, optimize=True)
            grads["b_proj"] = dA.sum(axis=(0, 2, 3))
        else:
            _, grads["W_proj"], grads["b_proj"] = affine_backward(cell_grads.pop("h0"),
                                                                  proj_cache)
        grads.update(cell_grads)
        return loss, grads

    # ------------------------------------------------------------------ decoding
    def _need_start(self):
        if self._start is None:
            raise ValueError("word_to_idx has no '<START>' token, so the model cannot decode")

    def sample(self, features, max_length=30):
        """Greedy decoding: at every step feed back the most likely word.

        As in CS231n, every one of the max_length steps is decoded (the first token fed is
        <START>, which is not part of the output); positions after an <END> hold whatever the
        model predicts next, so cut the caption at its first <END> (decode_captions does).

        Inputs:
        - features: image features, of shape (N, D), or (N, D, P, P) for 'attention'.
        - max_length: T, number of words to generate.

        Returns:
        - captions: int array of shape (N, T) of word indices.
        - for 'attention' only, a tuple (captions, attn_weights_all) where attn_weights_all,
          of shape (N, T, P, P), holds the attention weights used to produce every word.
        """
        self._need_start()
        features = self._features(features)
        N = features.shape[0]
        p = self.params
        cell = self._cell_params()
        h, c, A, _ = self._project(features)
        captions = np.full((N, max_length), self._null, dtype=np.int64)
        attn_all = None
        if A is not None:
            attn_all = np.zeros((N, max_length) + A.shape[2:], dtype=self.dtype)
        word = np.full(N, self._start, dtype=np.int64)
        for t in range(max_length):
            h, c, weights = step(self.cell_type, p["W_embed"][word], h, c, cell, A)
            scores = h @ p["W_vocab"] + p["b_vocab"]
            word = np.argmax(scores, axis=1)
            captions[:, t] = word
            if attn_all is not None:
                attn_all[:, t] = weights
        if self.cell_type == "attention":
            return captions, attn_all
        return captions

    def beam_search(self, features, beam_size=5, max_length=30, length_norm=True):
        """Beam-search decoding, one image at a time.

        A hypothesis is a partial caption; it is finished when its last word is <END> (kept,
        with its <END>) or when it has max_length words. <NULL> and <START> are never
        produced. Every hypothesis, live or finished, is ranked by the same score: its total
        log-probability divided by its length in words, <END> included (length_norm=True,
        the default: otherwise short captions win simply because every word costs
        probability), or the plain total (length_norm=False).

        At every step each live hypothesis is extended by every word; the beam_size best of
        these extensions and of the finished hypotheses already in the beam form the next
        beam, so a finished caption keeps its place only while no live one outranks it, and
        a caption joins the set of results only by entering the beam (with beam_size=1 this
        is greedy decoding). The search stops when the beam holds no live hypothesis, when
        no live one can still beat the best finished caption (word log-probabilities are
        <= 0, so a live hypothesis of total L can reach at most L, or L / max_length under
        length normalisation), or after max_length words. The result is the best-ranked
        finished caption.

        Inputs:
        - features: image features, of shape (N, D), or (N, D, P, P) for 'attention'.
        - beam_size: number of hypotheses kept per image.
        - max_length: T, maximum number of words per caption.
        - length_norm: rank by mean instead of total log-probability.

        Returns:
        - captions: int array of shape (N, T); each row is the best caption, <END> included
          when it was produced, padded with <NULL>.
        """
        self._need_start()
        if int(beam_size) < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        features = self._features(features)
        H0, C0, A0, _ = self._project(features)
        captions = np.full((features.shape[0], max_length), self._null, dtype=np.int64)
        for n in range(features.shape[0]):
            best = self._beam_one(H0[n : n + 1], None if C0 is None else C0[n : n + 1],
                                  None if A0 is None else A0[n : n + 1], int(beam_size),
                                  max_length, length_norm)
            captions[n, : len(best)] = best
        return captions

    def _beam_one(self, h, c, A, beam_size, max_length, length_norm):
        """Beam search (see beam_search) for one image from its initial state h, c (1, H) and
        projected grid A (or None); returns the tokens of the best finished caption."""
        p, cell, V = self.params, self._cell_params(), self.params["W_vocab"].shape[1]

        def rank(logp, length):
            return logp / length if length_norm else logp

        def bound(logp):
            # The best score a live hypothesis can still reach: later words only lower
            # its total, and a longer caption divides a negative total by more.
            return np.minimum(logp, 0.0) / max_length if length_norm else logp

        # Live hypotheses as arrays: tokens (K, t), cumulative log-probs (K,), states.
        tokens, logp, word = np.zeros((1, 0), dtype=np.int64), np.zeros(1), np.array([self._start])
        in_beam = []  # finished hypotheses still in the beam: (score, tokens)
        results = []  # every finished hypothesis that entered the beam: (score, tokens)
        for t in range(max_length):
            Ak = None if A is None else np.repeat(A, len(logp), axis=0)
            h, c, _ = step(self.cell_type, p["W_embed"][word], h, c, cell, Ak)
            step_logp = log_softmax((h @ p["W_vocab"] + p["b_vocab"]).astype(np.float64))
            step_logp[:, [self._null, self._start]] = -np.inf
            total = (logp[:, None] + step_logp).ravel()
            # Finished hypotheses first, so that they win ties.
            scores = np.concatenate([np.array([s for s, _ in in_beam]), rank(total, t + 1)])
            best = np.argsort(-scores, kind="stable")[:beam_size]
            best = best[np.isfinite(scores[best])]
            kept = [in_beam[i] for i in best[best < len(in_beam)]]
            ext = best[best >= len(in_beam)] - len(in_beam)
            src, word = ext // V, ext % V
            tokens, logp = np.concatenate([tokens[src], word[:, None]], axis=1), total[ext]
            h, c = h[src], None if c is None else c[src]
            ended = (word == self._end if self._end is not None
                     else np.zeros(len(word), dtype=bool))
            if t == max_length - 1:
                ended[:] = True
            new = [(float(rank(logp[k], t + 1)), tokens[k]) for k in np.flatnonzero(ended)]
            in_beam = kept + new
            results += new
            live = ~ended
            tokens, logp, h, word = tokens[live], logp[live], h[live], word[live]
            c = None if c is None else c[live]
            if len(logp) == 0 or (results and max(s for s, _ in results) >= bound(logp).max()):
                break
        return max(results, key=lambda item: item[0])[1]


def decode_captions(captions, idx_to_word):
    """Turn word indices into strings, stopping at <END> and skipping <NULL> and <START>.

    Inputs:
    - captions: int array of shape (N, T) or (T,).
    - idx_to_word: dict (or list) mapping an index to its word.

    Returns a list of N strings (one string for a 1-d input).
    """
    arr = np.asarray(captions)
    single = arr.ndim == 1
    rows = arr[None] if single else arr
    out = []
    for row in rows:
        words = []
        for i in row.tolist():
            w = idx_to_word[i]
            if w == "<END>":
                break
            if w not in ("<NULL>", "<START>"):
                words.append(w)
        out.append(" ".join(words))
    return out[0] if single else out
