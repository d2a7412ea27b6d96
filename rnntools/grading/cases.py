"""Input generators for the graded checks of the exercises.

``GENERATORS[name](rng, **dims)`` returns a dict of float64 arrays (integer arrays for token
ids) for the check ``name``; ``rng`` is ``np.random.default_rng(seed)``. A backward check's
inputs are the forward inputs plus the upstream gradient, named as the API names it
(``dnext_h``, ``dh``, ``dout`` ...). The grader rebuilds the same inputs from the same seed and
sizes, so a generator must never change once an assignment has been released.
"""

import numpy as np

__all__ = ["GENERATORS"]

GENERATORS = {}


def _generator(*names):
    def register(fn):
        for name in names:
            GENERATORS[name] = fn
        return fn

    return register


def _normal(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _recurrent(rng, N, D, H, gates, T=None):
    """Inputs shared by the recurrent layers: x, the initial state and the weights."""
    x_shape = (N, D) if T is None else (N, T, D)
    return {
        "x": _normal(rng, *x_shape),
        "h": _normal(rng, N, H),
        "Wx": _normal(rng, D, gates * H, scale=1 / np.sqrt(D)),
        "Wh": _normal(rng, H, gates * H, scale=1 / np.sqrt(H)),
        "b": _normal(rng, gates * H, scale=0.5),
    }


@_generator("rnn_step_forward", "rnn_step_backward")
def rnn_step(rng, N, D, H):
    c = _recurrent(rng, N, D, H, 1)
    return {"x": c["x"], "prev_h": c["h"], "Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"],
            "dnext_h": _normal(rng, N, H)}


@_generator("rnn_forward", "rnn_backward")
def rnn_sequence(rng, N, T, D, H):
    c = _recurrent(rng, N, D, H, 1, T=T)
    return {"x": c["x"], "h0": c["h"], "Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"],
            "dh": _normal(rng, N, T, H)}


@_generator("lstm_step_forward", "lstm_step_backward")
def lstm_step(rng, N, D, H):
    c = _recurrent(rng, N, D, H, 4)
    return {"x": c["x"], "prev_h": c["h"], "prev_c": _normal(rng, N, H), "Wx": c["Wx"],
            "Wh": c["Wh"], "b": c["b"], "dnext_h": _normal(rng, N, H),
            "dnext_c": _normal(rng, N, H)}


@_generator("lstm_forward", "lstm_backward")
def lstm_sequence(rng, N, T, D, H):
    c = _recurrent(rng, N, D, H, 4, T=T)
    return {"x": c["x"], "h0": c["h"], "Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"],
            "dh": _normal(rng, N, T, H)}


@_generator("peephole_lstm_step_forward", "peephole_lstm_step_backward")
def peephole_step(rng, N, D, H):
    inputs = lstm_step(rng, N, D, H)
    inputs["Wp"] = _normal(rng, 3, H, scale=0.5)
    return inputs


@_generator("peephole_lstm_forward", "peephole_lstm_backward")
def peephole_sequence(rng, N, T, D, H):
    inputs = lstm_sequence(rng, N, T, D, H)
    inputs["Wp"] = _normal(rng, 3, H, scale=0.5)
    return inputs


@_generator("gru_step_forward", "gru_step_backward")
def gru_step(rng, N, D, H):
    c = _recurrent(rng, N, D, H, 3)
    return {"x": c["x"], "prev_h": c["h"], "Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"],
            "dnext_h": _normal(rng, N, H)}


@_generator("gru_forward", "gru_backward")
def gru_sequence(rng, N, T, D, H):
    c = _recurrent(rng, N, D, H, 3, T=T)
    return {"x": c["x"], "h0": c["h"], "Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"],
            "dh": _normal(rng, N, T, H)}


@_generator("word_embedding_forward", "word_embedding_backward")
def word_embedding(rng, N, T, V, D):
    return {"x": rng.integers(0, V, size=(N, T)), "W": _normal(rng, V, D),
            "dout": _normal(rng, N, T, D)}


@_generator("temporal_affine_forward", "temporal_affine_backward")
def temporal_affine(rng, N, T, D, M):
    return {"x": _normal(rng, N, T, D), "w": _normal(rng, D, M, scale=1 / np.sqrt(D)),
            "b": _normal(rng, M), "dout": _normal(rng, N, T, M)}


@_generator("temporal_softmax_loss")
def temporal_softmax(rng, N, T, V, scale=1.0):
    return {"x": _normal(rng, N, T, V, scale=scale), "y": rng.integers(0, V, size=(N, T)),
            "mask": rng.random((N, T)) < 0.7}


def _distribution_rows(rng, V, rows):
    """rows x V conditional probabilities, each row a random softmax."""
    scores = _normal(rng, rows, V, scale=1.5)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@_generator("softmax_with_temperature")
def softmax_temperature(rng, N, V, temperature):
    return {"scores": _normal(rng, N, V, scale=2.0), "temperature": np.float64(temperature)}


@_generator("sample_next")
def sample_next(rng, N, V, temperature):
    return {"scores": _normal(rng, N, V, scale=2.0), "u": rng.random(N),
            "temperature": np.float64(temperature)}


@_generator("bigram_counts")
def bigram_counts(rng, N, T, V):
    # A few tokens are never used, so some rows and columns of the counts stay zero.
    return {"x": rng.integers(0, max(1, V - 2), size=(N, T)), "V": np.int64(V)}


@_generator("bigram_probabilities")
def bigram_probabilities(rng, V, alpha):
    counts = rng.integers(0, 5, size=(V, V)).astype(np.float64)
    counts[rng.integers(0, V)] = 0.0  # a token never seen as a predecessor
    return {"counts": counts, "alpha": np.float64(alpha)}


@_generator("perplexity")
def perplexity(rng, N, T, V):
    return {"probs": _distribution_rows(rng, V, V), "x": rng.integers(0, V, size=(N, T))}


@_generator("markov_sample")
def markov_sample(rng, N, T, V):
    return {"probs": _distribution_rows(rng, V, V), "start": rng.integers(0, V, size=N),
            "u": rng.random((N, T - 1))}


@_generator("truncated_bptt")
def truncated_bptt(rng, N, T, D, H, chunk):
    inputs = rnn_sequence(rng, N, T, D, H)
    inputs["chunk"] = np.int64(chunk)
    return inputs


@_generator("gradient_norm_by_distance")
def gradient_norm_by_distance(rng, N, T, D, H, wh_scale=1.0):
    inputs = rnn_sequence(rng, N, T, D, H)
    del inputs["dh"]
    # wh_scale sets the size of the recurrent weights: small values make gradients vanish.
    inputs["Wh"] = inputs["Wh"] * wh_scale
    inputs["dlast"] = _normal(rng, N, H)
    return inputs


@_generator("global_norm", "clip_by_global_norm")
def gradients(rng, D, H, max_norm=1.0):
    return {"dW": _normal(rng, D, H), "db": _normal(rng, H), "max_norm": np.float64(max_norm)}


@_generator("dot_product_attention_forward", "dot_product_attention_backward")
def dot_product_attention(rng, N, H, P):
    return {"prev_h": _normal(rng, N, H), "A": _normal(rng, N, H, P, P),
            "dattn": _normal(rng, N, H)}


@_generator("attention_lstm_forward", "attention_lstm_backward")
def attention_lstm(rng, N, T, D, H, P):
    return {"x": _normal(rng, N, T, D), "A": _normal(rng, N, H, P, P),
            "Wx": _normal(rng, D, 4 * H, scale=1 / np.sqrt(D)),
            "Wh": _normal(rng, H, 4 * H, scale=1 / np.sqrt(H)),
            "Wattn": _normal(rng, H, 4 * H, scale=1 / np.sqrt(H)),
            "b": _normal(rng, 4 * H, scale=0.5), "dh": _normal(rng, N, T, H)}


CAPTIONING_PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def _captioning_params(rng, D, W, H, V):
    return {"W_proj": _normal(rng, D, H, scale=1 / np.sqrt(D)), "b_proj": _normal(rng, H),
            "W_embed": _normal(rng, V, W), "Wx": _normal(rng, W, H, scale=1 / np.sqrt(W)),
            "Wh": _normal(rng, H, H, scale=1 / np.sqrt(H)), "b": _normal(rng, H, scale=0.5),
            "W_vocab": _normal(rng, H, V, scale=1 / np.sqrt(H)), "b_vocab": _normal(rng, V)}


def _vocabulary(V):
    """CS231n's word_to_idx for a vocabulary of V words: <NULL> = 0, <START> = 1, <END> = 2
    (drawn from no generator, so adding it changed none of the arrays)."""
    words = ["<NULL>", "<START>", "<END>"] + [f"w{i}" for i in range(3, V)]
    return {w: i for i, w in enumerate(words[:V])}


@_generator("captioning_loss")
def captioning_loss(rng, N, T, D, W, H, V):
    captions = rng.integers(1, V, size=(N, T))
    # Captions of random lengths, padded with <NULL> = 0 (the first word is always there).
    lengths = rng.integers(2, T + 1, size=N)
    captions[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return {"features": _normal(rng, N, D), "captions": captions,
            **_captioning_params(rng, D, W, H, V), "word_to_idx": _vocabulary(V)}


@_generator("greedy_sample")
def greedy_sample(rng, N, D, W, H, V, max_length):
    return {"features": _normal(rng, N, D), "start_idx": np.int64(1),
            "max_length": np.int64(max_length), **_captioning_params(rng, D, W, H, V),
            "word_to_idx": _vocabulary(V)}


def _encoder_states(rng, N, S, H, A):
    """What the encoder hands the decoder: its hidden states (the values) and their additive
    attention keys."""
    return {"keys": _normal(rng, N, S, A), "values": _normal(rng, N, S, H)}


def _additive_score(rng, H, A):
    """The weights of the additive score v . tanh(s Wq + k)."""
    return {"Wq": _normal(rng, H, A, scale=1 / np.sqrt(H)),
            "v": _normal(rng, A, scale=1 / np.sqrt(A))}


def _decoder_weights(rng, D, H, A):
    return {"Wx": _normal(rng, D, 4 * H, scale=1 / np.sqrt(D)),
            "Wh": _normal(rng, H, 4 * H, scale=1 / np.sqrt(H)),
            "b": _normal(rng, 4 * H, scale=0.5),
            "Wattn": _normal(rng, H, 4 * H, scale=1 / np.sqrt(H)),
            **_additive_score(rng, H, A)}


@_generator("additive_attention_forward", "additive_attention_backward")
def additive_attention(rng, N, S, H, A):
    return {"prev_h": _normal(rng, N, H), **_encoder_states(rng, N, S, H, A),
            **_additive_score(rng, H, A), "dctx": _normal(rng, N, H)}


@_generator("dot_attention_forward", "dot_attention_backward")
def dot_attention(rng, N, S, H):
    return {"prev_h": _normal(rng, N, H), "values": _normal(rng, N, S, H),
            "dctx": _normal(rng, N, H)}


@_generator("attention_decoder_step_forward", "attention_decoder_step_backward")
def attention_decoder_step(rng, N, S, D, H, A, attention):
    return {"x": _normal(rng, N, D), "prev_h": _normal(rng, N, H),
            "prev_c": _normal(rng, N, H), **_encoder_states(rng, N, S, H, A),
            **_decoder_weights(rng, D, H, A), "dnext_h": _normal(rng, N, H),
            "dnext_c": _normal(rng, N, H), "dctx": _normal(rng, N, H),
            "attention": attention}


@_generator("greedy_decode")
def greedy_decoding(rng, N, S, D, H, A, V, max_length, attention, end_bias=0.0):
    # end_bias raises the score of <END> (id 2), so that rows end at different steps.
    bout = _normal(rng, V)
    bout[2] += end_bias
    return {"h0": _normal(rng, N, H), "c0": _normal(rng, N, H),
            **_encoder_states(rng, N, S, H, A), **_decoder_weights(rng, D, H, A),
            "W_tgt": _normal(rng, V, D), "Wout": _normal(rng, 2 * H, V, scale=1 / np.sqrt(H)),
            "bout": bout, "max_length": np.int64(max_length), "attention": attention}
