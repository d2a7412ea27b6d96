"""An encoder-decoder (sequence to sequence) LSTM, with or without attention.

The encoder reads the source with an LSTM; its last state (h, c) starts the decoder, an
LSTM that predicts the target one token at a time (Sutskever et al. 2014). With attention,
every decoder step also reads a context vector, a weighted mean of the encoder's hidden
states h_1..h_S whose weights come from a score of each h_j against the decoder's previous
state s_{t-1}:

- additive (Bahdanau et al. 2015):  e_tj = v . tanh(W_q s_{t-1} + W_k h_j)
- dot product (Luong et al. 2015):  e_tj = s_{t-1} . h_j / sqrt(H)

alpha_t = softmax_j(e_tj), ctx_t = sum_j alpha_tj h_j. The context enters the LSTM's gates
(through Wattn: an LSTM step on the input [x_t, ctx_t]) and, with the new state s_t, the output
layer: scores_t = [s_t, ctx_t] Wout + bout. Both scores use the same query s_{t-1}, so the
two attention models differ only in the score; Luong et al. score the current state s_t and
compute the context after the step instead.

What the decoder reads at step t is the previous target token (teacher forcing), or its own
previous prediction (free running), chosen per position by a boolean `feed` array, which also
serves scheduled sampling (Bengio et al. 2015): the trainer draws `feed` with a probability
of the true token that decays over training.
"""

import numpy as np

from rnnlib.layers import (
    lstm_step_backward,
    lstm_step_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnnlib.layers.stateful import lstm_backward_state, lstm_forward_state
from rnntools.checks import dims, expect

ATTENTION = (None, "additive", "dot")


def _softmax(scores):
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


def _softmax_backward(dweights, weights):
    return weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))


def additive_attention_forward(prev_h, keys, values, Wq, v):
    """Additive (Bahdanau) attention of a decoder state over the encoder's states.

    Inputs:
    - prev_h: the decoder's previous hidden state, the query, of shape (N, H).
    - keys: the encoder states projected once per sequence, values Wk, of shape (N, S, A).
    - values: the encoder's hidden states h_1..h_S, of shape (N, S, H).
    - Wq: query projection, of shape (H, A).
    - v: score vector, of shape (A,).

    Returns a tuple of:
    - ctx: the context vector, sum over j of weights_j * values_j, of shape (N, H).
    - weights: the attention weights, of shape (N, S); each row sums to 1.
    - cache: values needed by additive_attention_backward.
    """
    N, H = dims("prev_h", prev_h, "(N, H)")
    S, A = dims("keys", keys, "(N, S, A)")[1:]
    expect("keys", keys, "(N, S, A)", (N, S, A), prev_h.dtype)
    expect("values", values, "(N, S, H)", (N, S, H), prev_h.dtype)
    expect("Wq", Wq, "(H, A)", (H, A), prev_h.dtype)
    expect("v", v, "(A,)", (A,), prev_h.dtype)
    hidden = np.tanh((prev_h @ Wq)[:, None, :] + keys)          # (N, S, A)
    weights = _softmax(hidden @ v)                               # (N, S)
    ctx = (weights[:, None, :] @ values)[:, 0, :]
    return ctx, weights, (prev_h, values, Wq, v, hidden, weights)


def additive_attention_backward(dctx, cache):
    """Backward pass of additive_attention_forward.

    Inputs:
    - dctx: upstream gradient with respect to ctx, of shape (N, H).
    - cache: from additive_attention_forward.

    Returns a tuple of:
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dkeys: gradient with respect to keys, of shape (N, S, A).
    - dvalues: gradient with respect to values, of shape (N, S, H).
    - dWq: gradient with respect to Wq, of shape (H, A).
    - dv: gradient with respect to v, of shape (A,).
    """
    prev_h, values, Wq, v, hidden, weights = cache
    expect("dctx", dctx, "(N, H)", prev_h.shape, prev_h.dtype)
    dvalues = weights[:, :, None] * dctx[:, None, :]
    dscores = _softmax_backward((values @ dctx[:, :, None])[:, :, 0], weights)
    dv = np.einsum("nsa,ns->a", hidden, dscores)
    dpre = dscores[:, :, None] * v * (1 - hidden * hidden)       # (N, S, A)
    dquery = dpre.sum(axis=1)
    return dquery @ Wq.T, dpre, dvalues, prev_h.T @ dquery, dv


def dot_attention_forward(prev_h, values):
    """Scaled dot-product (Luong) attention of a decoder state over the encoder's states.

    Inputs:
    - prev_h: the query, of shape (N, H).
    - values: the encoder's hidden states, of shape (N, S, H); they are also the keys.

    Returns a tuple of:
    - ctx: the context vector, of shape (N, H).
    - weights: the attention weights, of shape (N, S); each row sums to 1.
    - cache: values needed by dot_attention_backward.
    """
    N, H = dims("prev_h", prev_h, "(N, H)")
    S = dims("values", values, "(N, S, H)")[1]
    expect("values", values, "(N, S, H)", (N, S, H), prev_h.dtype)
    # A Python float keeps float32 inputs in float32.
    scale = 1 / H ** 0.5
    weights = _softmax((values @ prev_h[:, :, None])[:, :, 0] * scale)
    ctx = (weights[:, None, :] @ values)[:, 0, :]
    return ctx, weights, (prev_h, values, weights)


def dot_attention_backward(dctx, cache):
    """Backward pass of dot_attention_forward.

    Inputs:
    - dctx: upstream gradient with respect to ctx, of shape (N, H).
    - cache: from dot_attention_forward.

    Returns a tuple of:
    - dprev_h: gradient with respect to prev_h, of shape (N, H).
    - dvalues: gradient with respect to values, of shape (N, S, H).
    """
    prev_h, values, weights = cache
    expect("dctx", dctx, "(N, H)", prev_h.shape, prev_h.dtype)
    scale = 1 / prev_h.shape[1] ** 0.5
    dscores = _softmax_backward((values @ dctx[:, :, None])[:, :, 0], weights) * scale
    dvalues = weights[:, :, None] * dctx[:, None, :] + dscores[:, :, None] * prev_h[:, None, :]
    return (dscores[:, None, :] @ values)[:, 0, :], dvalues


def attention_decoder_step_forward(x, prev_h, prev_c, keys, values, p, attention):
    """One decoder step: attend with prev_h, then an LSTM step fed x and the context.

    The context enters the gates through Wattn: a = x Wx + ctx Wattn + prev_h Wh + b, which
    is an LSTM step whose input is [x, ctx] (N, D + H) and whose input weights are Wx
    stacked on Wattn (D + H, 4H); so any lstm_step_forward of CS231n's signature serves.

    Inputs:
    - x: embedded input token, of shape (N, D).
    - prev_h, prev_c: the decoder's previous state, each of shape (N, H).
    - keys: projected encoder states, of shape (N, S, A) (used by additive attention only).
    - values: encoder hidden states, of shape (N, S, H).
    - p: dict of decoder weights: Wx (D, 4H), Wh (H, 4H), b (4H,), Wattn (H, 4H), and for
      additive attention Wq (H, A) and v (A,).
    - attention: 'additive' or 'dot'.

    Returns a tuple of:
    - next_h, next_c: the new state, each of shape (N, H).
    - ctx: the context vector, of shape (N, H).
    - weights: the attention weights, of shape (N, S).
    - cache: values needed by attention_decoder_step_backward.
    """
    if attention == "additive":
        ctx, weights, att_cache = additive_attention_forward(prev_h, keys, values,
                                                             p["Wq"], p["v"])
    elif attention == "dot":
        ctx, weights, att_cache = dot_attention_forward(prev_h, values)
    else:
        raise ValueError(f"attention must be 'additive' or 'dot'; got {attention!r}")
    x_ctx = np.concatenate([x, ctx], axis=1)
    W_ctx = np.concatenate([p["Wx"], p["Wattn"]], axis=0)
    next_h, next_c, lstm_cache = lstm_step_forward(x_ctx, prev_h, prev_c, W_ctx, p["Wh"],
                                                   p["b"])
    return next_h, next_c, ctx, weights, (attention, att_cache, lstm_cache, x.shape[1])


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    """Backward pass of attention_decoder_step_forward.

    Inputs:
    - dnext_h, dnext_c: upstream gradients of next_h and next_c, each of shape (N, H).
    - dctx: upstream gradient of ctx from outside the step (the output layer), (N, H).
    - cache: from attention_decoder_step_forward.

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D).
    - dprev_h, dprev_c: gradients with respect to the previous state, each (N, H).
    - dkeys: gradient with respect to keys, (N, S, A), or None for dot attention.
    - dvalues: gradient with respect to values, of shape (N, S, H).
    - grads: dict of the gradients of the weights in p: Wx, Wh, b, Wattn (and Wq, v).
    """
    attention, att_cache, lstm_cache, D = cache
    dx_ctx, dprev_h, dprev_c, dW_ctx, dWh, db = lstm_step_backward(dnext_h, dnext_c,
                                                                   lstm_cache)
    grads = {"Wx": dW_ctx[:D], "Wh": dWh, "b": db, "Wattn": dW_ctx[D:]}
    dctx = dctx + dx_ctx[:, D:]
    if attention == "additive":
        dq, dkeys, dvalues, grads["Wq"], grads["v"] = additive_attention_backward(dctx,
                                                                                  att_cache)
    else:
        (dq, dvalues), dkeys = dot_attention_backward(dctx, att_cache), None
    return dx_ctx[:, :D], dprev_h + dq, dprev_c, dkeys, dvalues, grads


def decoder_step_forward(tokens, prev_h, prev_c, keys, values, p, attention):
    """One step of the decoder from token ids: embed, step the LSTM, score the next token.

    Inputs:
    - tokens: the input token ids, of shape (N,).
    - prev_h, prev_c: the decoder's previous state, each of shape (N, H).
    - keys, values: the encoder's states, as attention_decoder_step_forward takes them.
    - p: dict of weights: W_tgt (V, D), Wx, Wh, b, Wout (H, V) or with attention (2H, V),
      bout (V,), and the attention's weights (Wattn; Wq and v).
    - attention: None (a plain LSTM step), 'additive' or 'dot'.

    Returns a tuple of:
    - scores: the scores of the next token, of shape (N, V).
    - next_h, next_c: the new state, each of shape (N, H).
    - weights: the attention weights (N, S), or None without attention.
    - cache: (the embedding's cache, the step's cache, the output layer's input).
    """
    x, emb_cache = word_embedding_forward(tokens[:, None], p["W_tgt"])
    x = x[:, 0]
    if attention is None:
        next_h, next_c, step_cache = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"],
                                                       p["b"])
        out_in, weights = next_h, None
    else:
        next_h, next_c, ctx, weights, step_cache = attention_decoder_step_forward(
            x, prev_h, prev_c, keys, values, p, attention)
        out_in = np.concatenate([next_h, ctx], axis=1)
    scores = out_in @ p["Wout"] + p["bout"]
    return scores, next_h, next_c, weights, (emb_cache, step_cache, out_in)


def greedy_decode(h0, c0, keys, values, p, attention, max_length, start=1, end=2, null=0):
    """Greedy decoding: feed the decoder its own most likely token, from <START> on.

    Inputs:
    - h0, c0: the decoder's initial state (the encoder's last state), each of shape (N, H).
    - keys, values: the encoder's states, as attention_decoder_step_forward takes them.
    - p, attention: the decoder's weights and its attention, as decoder_step_forward takes
      them.
    - max_length: the largest number of steps, an int.
    - start, end, null: the ids of <START>, <END> and <NULL>.

    Returns a tuple of:
    - tokens: int array of shape (N, L): row n holds the most likely token of every step up
      to and including its first <END>, then <NULL>. Decoding stops after the step at which
      every row has produced <END>, or after max_length steps: L <= max_length.
    - weights: the attention weights of every step, of shape (N, L, S); None without
      attention.
    """
    tokens = np.full(h0.shape[0], start)
    done = np.zeros(h0.shape[0], bool)
    h, c, out, attn = h0, c0, [], []
    for _ in range(max_length):
        scores, h, c, weights, _ = decoder_step_forward(tokens, h, c, keys, values, p,
                                                        attention)
        tokens = np.where(done, null, scores.argmax(axis=1))
        out.append(tokens)
        attn.append(weights)
        done = done | (tokens == end)
        if done.all():
            break
    return np.stack(out, axis=1), None if attention is None else np.stack(attn, axis=1)


class Seq2Seq:
    """An LSTM encoder-decoder for token sequences, with optional attention.

    Inputs:
    - src_vocab, tgt_vocab: V_s and V_t, numbers of source and target tokens. Id 0 is
      <NULL> on both sides; the target side has <START> = 1 and <END> = 2.
    - wordvec_dim: D, size of both embeddings.
    - hidden_dim: H, size of the encoder's and the decoder's state.
    - attention: None (the encoder's last state only), 'additive' or 'dot'.
    - attn_dim: A, size of the additive score's hidden layer.
    - seed: seeds the weight initialisation.
    - dtype: np.float32 or np.float64.
    """

    def __init__(self, src_vocab, tgt_vocab, wordvec_dim=32, hidden_dim=128, attention=None,
                 attn_dim=64, seed=0, dtype=np.float32):
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}; got {attention!r}")
        self.attention, self.dtype = attention, dtype
        self.null, self.start, self.end = 0, 1, 2
        rng = np.random.default_rng(seed)
        D, H, A = wordvec_dim, hidden_dim, attn_dim

        def normal(*shape, fan_in):
            return rng.standard_normal(shape) / np.sqrt(fan_in)

        p = {"W_src": normal(src_vocab, D, fan_in=1) / 10,
             "W_tgt": normal(tgt_vocab, D, fan_in=1) / 10,
             "enc_Wx": normal(D, 4 * H, fan_in=D), "enc_Wh": normal(H, 4 * H, fan_in=H),
             "enc_b": np.zeros(4 * H),
             "Wx": normal(D, 4 * H, fan_in=D), "Wh": normal(H, 4 * H, fan_in=H),
             "b": np.zeros(4 * H)}
        out_in = H if attention is None else 2 * H
        p["Wout"], p["bout"] = normal(out_in, tgt_vocab, fan_in=out_in), np.zeros(tgt_vocab)
        if attention is not None:
            p["Wattn"] = normal(H, 4 * H, fan_in=H)
        if attention == "additive":
            p["Wk"], p["Wq"] = normal(H, A, fan_in=H), normal(H, A, fan_in=H)
            p["v"] = normal(A, fan_in=A)
        self.params = {k: v.astype(dtype) for k, v in p.items()}

    # -- the encoder -------------------------------------------------------------------------
    def encode(self, src):
        """Encoder states for source ids src (N, S): (values (N, S, H), keys or None,
        (h_S, c_S), cache)."""
        p = self.params
        N = src.shape[0]
        H = p["enc_Wh"].shape[0]
        x, emb_cache = word_embedding_forward(src, p["W_src"])
        zeros = np.zeros((N, H), self.dtype)
        values, c_last, lstm_cache = lstm_forward_state(x, zeros, zeros, p["enc_Wx"],
                                                        p["enc_Wh"], p["enc_b"])
        keys = values @ p["Wk"] if self.attention == "additive" else None
        return values, keys, (values[:, -1], c_last), (values, emb_cache, lstm_cache)

    def _encode_backward(self, dvalues, dkeys, dh_last, dc_last, cache, grads):
        """Gradients of the encoder's weights into grads, from those of its outputs."""
        values, emb_cache, lstm_cache = cache
        if dkeys is not None:
            grads["Wk"] = np.einsum("nsh,nsa->ha", values, dkeys)
            dvalues = dvalues + dkeys @ self.params["Wk"].T
        dvalues = dvalues.copy()
        dvalues[:, -1] += dh_last
        dx, _, _, grads["enc_Wx"], grads["enc_Wh"], grads["enc_b"] = lstm_backward_state(
            dvalues, lstm_cache, dc_last)
        grads["W_src"] = word_embedding_backward(dx, emb_cache)

    # -- one decoder step --------------------------------------------------------------------
    def _step(self, tokens, h, c, keys, values):
        """Scores (N, V_t) for the next token after `tokens` (N,), the new state, the
        attention weights (N, S) or None, and the step's cache."""
        return decoder_step_forward(tokens, h, c, keys, values, self.params, self.attention)

    def _step_backward(self, dscores, dh, dc, cache, grads, dvalues, dkeys):
        p = self.params
        emb_cache, step_cache, out_in = cache
        grads["Wout"] += out_in.T @ dscores
        grads["bout"] += dscores.sum(axis=0)
        dout_in = dscores @ p["Wout"].T
        H = dh.shape[1]
        dh = dh + dout_in[:, :H]
        if self.attention is None:
            dx, dh, dc, dWx, dWh, db = lstm_step_backward(dh, dc, step_cache)
            step_grads = {"Wx": dWx, "Wh": dWh, "b": db}
        else:
            dx, dh, dc, dk, dv, step_grads = attention_decoder_step_backward(
                dh, dc, dout_in[:, H:], step_cache)
            dvalues += dv
            if dk is not None:
                dkeys += dk
        for k, g in step_grads.items():
            grads[k] += g
        grads["W_tgt"] += word_embedding_backward(dx[:, None], emb_cache)
        return dh, dc

    # -- training ----------------------------------------------------------------------------
    def loss(self, src, tgt, feed=None):
        """Mean cross-entropy per target sequence, and the gradients of every parameter.

        Inputs:
        - src: source ids, of shape (N, S) (no padding: one source length per batch).
        - tgt: target ids, of shape (N, T + 1): <START>, the tokens, <END>, <NULL> padding.
        - feed: optional bool array of shape (N, T); feed[n, t] True gives the decoder the
          true token tgt[n, t] at step t (teacher forcing), False its own most likely token
          from step t - 1 (free running; step 0 always reads <START>). None: all True.

        Returns a tuple of:
        - loss: float, the summed cross-entropy of the T steps, averaged over the N rows
          (temporal_softmax_loss; <NULL> positions masked out).
        - grads: dict with the same keys as self.params.
        """
        p = self.params
        N, T = tgt.shape[0], tgt.shape[1] - 1
        if feed is None:
            feed = np.ones((N, T), bool)
        expect("feed", feed, "(N, T)", (N, T), bool)
        values, keys, (h, c), enc_cache = self.encode(src)
        tokens, caches, all_scores = tgt[:, 0], [], []
        for t in range(T):
            if t:
                tokens = np.where(feed[:, t], tgt[:, t], all_scores[-1].argmax(axis=1))
            scores, h, c, _, cache = self._step(tokens, h, c, keys, values)
            caches.append(cache)
            all_scores.append(scores)
        y = tgt[:, 1:]
        loss, dscores = temporal_softmax_loss(np.stack(all_scores, axis=1), y, y != self.null)

        grads = {k: np.zeros_like(v) for k, v in p.items()}
        dh = np.zeros_like(h)
        dc = np.zeros_like(c)
        dvalues = np.zeros_like(values)
        dkeys = None if keys is None else np.zeros_like(keys)
        for t in reversed(range(T)):
            dh, dc = self._step_backward(dscores[:, t], dh, dc, caches[t], grads, dvalues,
                                         dkeys)
        self._encode_backward(dvalues, dkeys, dh, dc, enc_cache, grads)
        return float(loss), grads

    # -- decoding ----------------------------------------------------------------------------
    def score(self, src, tgt):
        """Teacher-forced predictions: (most likely token (N, T), log-probabilities of the
        true tokens (N, T)); positions after <END> are meaningless and left to the caller."""
        values, keys, (h, c), _ = self.encode(src)
        best, logp = [], []
        for t in range(tgt.shape[1] - 1):
            scores, h, c, _, _ = self._step(tgt[:, t], h, c, keys, values)
            lp = scores - scores.max(axis=1, keepdims=True)
            lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
            best.append(scores.argmax(axis=1))
            logp.append(lp[np.arange(len(lp)), tgt[:, t + 1]])
        return np.stack(best, axis=1), np.stack(logp, axis=1)

    def greedy(self, src, max_length):
        """Greedy decoding: (tokens (N, L), attention weights (N, L, S) or None). Each row
        holds the most likely token at every step until <END> (included), then <NULL>."""
        values, keys, (h, c), _ = self.encode(src)
        return greedy_decode(h, c, keys, values, self.params, self.attention, max_length,
                             self.start, self.end, self.null)

    def beam(self, src_row, width, max_length):
        """Beam search for one source of ids (S,).

        Returns (tokens, log-probability): the finished hypothesis (its tokens up to and
        including <END>) of highest summed log-probability. At every step the `width` best
        extensions of the unfinished hypotheses survive; a hypothesis that ends leaves the
        beam, and the search stops when no unfinished one can still beat the best finished
        (log-probabilities only fall as a hypothesis grows) or after max_length steps.
        """
        values, keys, (h, c), _ = self.encode(src_row[None])
        beams = [((self.start,), 0.0, h[0], c[0])]
        best = ((), -np.inf)
        for _ in range(max_length):
            n = len(beams)
            scores, hs, cs, _, _ = self._step(
                np.array([b[0][-1] for b in beams]), np.stack([b[2] for b in beams]),
                np.stack([b[3] for b in beams]),
                None if keys is None else np.repeat(keys, n, axis=0),
                np.repeat(values, n, axis=0))
            lp = scores - scores.max(axis=1, keepdims=True)
            lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
            total = np.array([b[1] for b in beams])[:, None] + lp
            survivors = []
            for i in np.argsort(-total, axis=None, kind="stable")[:width]:
                row, tok = divmod(int(i), lp.shape[1])
                seq, logp = beams[row][0] + (tok,), float(total[row, tok])
                if tok == self.end:
                    best = max(best, (seq[1:], logp), key=lambda x: x[1])
                else:
                    survivors.append((seq, logp, hs[row], cs[row]))
            beams = [b for b in survivors if b[1] > best[1]]
            if not beams:
                break
        if not best[0]:  # nothing finished within max_length: the best unfinished
            best = max(((b[0][1:], b[1]) for b in survivors), key=lambda x: x[1])
        return np.array(best[0]), best[1]
