"""Additive attention without its tanh: the scores are v . (s W_q + k_j), a linear score.
Everything that attends additively runs it: the backward pass's test, the decoder step (its
additive cases) and greedy decoding (its additive cases), so they all lose their points."""

import numpy as np

LOSES = {
    "test_additive_attention_forward": "own bug: tanh forgotten",
    "test_additive_attention_backward": "cascade: its test runs the wrong forward",
    "test_attention_decoder_step_forward": "cascade: it calls the wrong additive attention",
    "test_attention_decoder_step_backward": "cascade: its test runs the wrong additive attention",
    "test_greedy_decode": "cascade: its additive cases run the wrong additive attention",
}


def additive_attention_forward(prev_h, keys, values, Wq, v):
    hidden = (prev_h @ Wq)[:, None, :] + keys  # wrong: np.tanh(...)
    scores = hidden @ v
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    ctx = np.einsum("ns,nsh->nh", weights, values)
    return ctx, weights, (prev_h, values, Wq, v, hidden, weights)
