"""Typical mistakes in dot-product attention: the forward pass forgets the 1 / sqrt(H) scale
of the scores, and the backward pass forgets that the values are also the keys (dvalues
holds only the weighted-sum term). The decoder step's and greedy decoding's dot cases run the
wrong forward, so they lose their points too; the additive cases are untouched."""

import numpy as np

LOSES = {
    "test_dot_attention_forward": "own bug: scores not divided by sqrt(H)",
    "test_dot_attention_backward": "own bug: no key path into dvalues (and its test runs the "
                                   "wrong forward)",
    "test_attention_decoder_step_forward": "cascade: its dot case runs the wrong dot attention",
    "test_greedy_decode": "cascade: its dot case runs the wrong dot attention",
}


def dot_attention_forward(prev_h, values):
    scores = np.einsum("nsh,nh->ns", values, prev_h)  # wrong: / np.sqrt(H)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ns,nsh->nh", weights, values), weights, (prev_h, values, weights)


def dot_attention_backward(dctx, cache):
    prev_h, values, weights = cache
    dw = np.einsum("nsh,nh->ns", values, dctx)
    ds = weights * (dw - (weights * dw).sum(axis=1, keepdims=True)) / np.sqrt(prev_h.shape[1])
    dvalues = weights[:, :, None] * dctx[:, None, :]  # wrong: + ds[:, :, None] * prev_h
    return np.einsum("ns,nsh->nh", ds, values), dvalues
