"""Reference outputs of every graded check of the exercises (grader side).

``REFERENCES[name](inputs) -> dict[str, np.ndarray]`` takes the inputs that
``rnntools.cases.GENERATORS[name]`` built and returns every output the hidden test cell
submits, computed with rnnlib. The keys are the names the API gives the returned values.
Backward checks run rnnlib's forward function on the same inputs first, as the test cells do
with the student's forward function.
"""

import numpy as np

from rnnlib import bptt, caption_rnn, clip, layers, ngram, sampling

__all__ = ["REFERENCES"]

REFERENCES = {}


def _reference(name):
    def register(fn):
        REFERENCES[name] = fn
        return fn

    return register


def _outputs(names, values):
    return dict(zip(names, values, strict=True))


_STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")
_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


@_reference("rnn_step_forward")
def rnn_step_forward(c):
    next_h, _ = layers.rnn_step_forward(c["x"], c["prev_h"], c["Wx"], c["Wh"], c["b"])
    return {"next_h": next_h}


@_reference("rnn_step_backward")
def rnn_step_backward(c):
    _, cache = layers.rnn_step_forward(c["x"], c["prev_h"], c["Wx"], c["Wh"], c["b"])
    return _outputs(_STEP_GRADS, layers.rnn_step_backward(c["dnext_h"], cache))


@_reference("rnn_forward")
def rnn_forward(c):
    h, _ = layers.rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return {"h": h}


@_reference("rnn_backward")
def rnn_backward(c):
    _, cache = layers.rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return _outputs(_SEQ_GRADS, layers.rnn_backward(c["dh"], cache))


@_reference("lstm_step_forward")
def lstm_step_forward(c):
    next_h, next_c, _ = layers.lstm_step_forward(
        c["x"], c["prev_h"], c["prev_c"], c["Wx"], c["Wh"], c["b"])
    return {"next_h": next_h, "next_c": next_c}


@_reference("lstm_step_backward")
def lstm_step_backward(c):
    _, _, cache = layers.lstm_step_forward(
        c["x"], c["prev_h"], c["prev_c"], c["Wx"], c["Wh"], c["b"])
    grads = layers.lstm_step_backward(c["dnext_h"], c["dnext_c"], cache)
    return _outputs(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), grads)


@_reference("lstm_forward")
def lstm_forward(c):
    h, _ = layers.lstm_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return {"h": h}


@_reference("lstm_backward")
def lstm_backward(c):
    _, cache = layers.lstm_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return _outputs(_SEQ_GRADS, layers.lstm_backward(c["dh"], cache))


@_reference("peephole_lstm_step_forward")
def peephole_lstm_step_forward(c):
    next_h, next_c, _ = layers.peephole_lstm_step_forward(
        c["x"], c["prev_h"], c["prev_c"], c["Wx"], c["Wh"], c["b"], c["Wp"])
    return {"next_h": next_h, "next_c": next_c}


@_reference("peephole_lstm_step_backward")
def peephole_lstm_step_backward(c):
    _, _, cache = layers.peephole_lstm_step_forward(
        c["x"], c["prev_h"], c["prev_c"], c["Wx"], c["Wh"], c["b"], c["Wp"])
    grads = layers.peephole_lstm_step_backward(c["dnext_h"], c["dnext_c"], cache)
    return _outputs(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db", "dWp"), grads)


@_reference("peephole_lstm_forward")
def peephole_lstm_forward(c):
    h, _ = layers.peephole_lstm_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], c["Wp"])
    return {"h": h}


@_reference("peephole_lstm_backward")
def peephole_lstm_backward(c):
    _, cache = layers.peephole_lstm_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], c["Wp"])
    return _outputs(_SEQ_GRADS + ("dWp",), layers.peephole_lstm_backward(c["dh"], cache))


@_reference("gru_step_forward")
def gru_step_forward(c):
    next_h, _ = layers.gru_step_forward(c["x"], c["prev_h"], c["Wx"], c["Wh"], c["b"])
    return {"next_h": next_h}


@_reference("gru_step_backward")
def gru_step_backward(c):
    _, cache = layers.gru_step_forward(c["x"], c["prev_h"], c["Wx"], c["Wh"], c["b"])
    return _outputs(_STEP_GRADS, layers.gru_step_backward(c["dnext_h"], cache))


@_reference("gru_forward")
def gru_forward(c):
    h, _ = layers.gru_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return {"h": h}


@_reference("gru_backward")
def gru_backward(c):
    _, cache = layers.gru_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])
    return _outputs(_SEQ_GRADS, layers.gru_backward(c["dh"], cache))


@_reference("word_embedding_forward")
def word_embedding_forward(c):
    out, _ = layers.word_embedding_forward(c["x"], c["W"])
    return {"out": out}


@_reference("word_embedding_backward")
def word_embedding_backward(c):
    _, cache = layers.word_embedding_forward(c["x"], c["W"])
    return {"dW": layers.word_embedding_backward(c["dout"], cache)}


@_reference("temporal_affine_forward")
def temporal_affine_forward(c):
    out, _ = layers.temporal_affine_forward(c["x"], c["w"], c["b"])
    return {"out": out}


@_reference("temporal_affine_backward")
def temporal_affine_backward(c):
    _, cache = layers.temporal_affine_forward(c["x"], c["w"], c["b"])
    return _outputs(("dx", "dw", "db"), layers.temporal_affine_backward(c["dout"], cache))


@_reference("temporal_softmax_loss")
def temporal_softmax_loss(c):
    loss, dx = layers.temporal_softmax_loss(c["x"], c["y"], c["mask"])
    return {"loss": np.float64(loss), "dx": dx}


@_reference("softmax_with_temperature")
def softmax_with_temperature(c):
    return {"probs": sampling.softmax_with_temperature(c["scores"], float(c["temperature"]))}


@_reference("sample_next")
def sample_next(c):
    return {"idx": sampling.sample_next(c["scores"], c["u"], float(c["temperature"]))}


@_reference("bigram_counts")
def bigram_counts(c):
    return {"counts": ngram.bigram_counts(c["x"], int(c["V"]))}


@_reference("bigram_probabilities")
def bigram_probabilities(c):
    return {"probs": ngram.bigram_probabilities(c["counts"], float(c["alpha"]))}


@_reference("perplexity")
def perplexity(c):
    return {"ppl": np.float64(ngram.perplexity(c["probs"], c["x"]))}


@_reference("markov_sample")
def markov_sample(c):
    return {"x": ngram.markov_sample(c["probs"], c["start"], c["u"])}


@_reference("truncated_bptt")
def truncated_bptt(c):
    out = bptt.truncated_bptt(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], c["dh"], int(c["chunk"]))
    return _outputs(("h", "dWx", "dWh", "db"), out)


@_reference("gradient_norm_by_distance")
def gradient_norm_by_distance(c):
    norms = bptt.gradient_norm_by_distance(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], c["dlast"])
    return {"norms": norms}


@_reference("global_norm")
def global_norm(c):
    return {"norm": np.float64(clip.global_norm({"dW": c["dW"], "db": c["db"]}))}


@_reference("clip_by_global_norm")
def clip_by_global_norm(c):
    clipped, norm = clip.clip_by_global_norm({"dW": c["dW"], "db": c["db"]}, float(c["max_norm"]))
    return {"dW": clipped["dW"], "db": clipped["db"], "norm": np.float64(norm)}


@_reference("dot_product_attention_forward")
def dot_product_attention_forward(c):
    attn, attn_weights, _ = layers.dot_product_attention_forward(c["prev_h"], c["A"])
    return {"attn": attn, "attn_weights": attn_weights}


@_reference("dot_product_attention_backward")
def dot_product_attention_backward(c):
    _, _, cache = layers.dot_product_attention_forward(c["prev_h"], c["A"])
    return _outputs(("dprev_h", "dA"), layers.dot_product_attention_backward(c["dattn"], cache))


@_reference("attention_lstm_forward")
def attention_lstm_forward(c):
    h, _ = layers.attention_lstm_forward(c["x"], c["A"], c["Wx"], c["Wh"], c["Wattn"], c["b"])
    return {"h": h}


@_reference("attention_lstm_backward")
def attention_lstm_backward(c):
    _, cache = layers.attention_lstm_forward(c["x"], c["A"], c["Wx"], c["Wh"], c["Wattn"],
                                             c["b"])
    grads = layers.attention_lstm_backward(c["dh"], cache)
    return _outputs(("dx", "dA", "dWx", "dWh", "dWattn", "db"), grads)


_CAPTIONING_PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")


@_reference("captioning_loss")
def captioning_loss(c):
    params = {k: c[k] for k in _CAPTIONING_PARAMS}
    loss, grads = caption_rnn.captioning_loss(c["features"], c["captions"], params)
    return {"loss": np.float64(loss), **{"d" + k: grads[k] for k in _CAPTIONING_PARAMS}}


@_reference("greedy_sample")
def greedy_sample(c):
    params = {k: c[k] for k in _CAPTIONING_PARAMS}
    captions = caption_rnn.greedy_sample(c["features"], params, int(c["start_idx"]),
                                         int(c["max_length"]))
    return {"captions": captions}
