"""Typical mistakes on the decoder side: the additive attention's backward forgets the
tanh derivative (which attention_decoder_step_backward inherits, calling it), the decoder
step's backward forgets that prev_h is also the attention's query, and greedy decoding runs
all max_length steps, as CS231n's caption sampler does, instead of stopping once every row
has produced <END>."""

import numpy as np

LOSES = {
    "test_additive_attention_backward": "own bug: tanh derivative forgotten",
    "test_attention_decoder_step_backward": "own bug: no query path into dprev_h (and the "
                                            "cascade of the attention backward)",
    "test_greedy_decode": "own bug: decodes all max_length steps (no early stop)",
}


def additive_attention_backward(dctx, cache):
    prev_h, values, Wq, v, hidden, weights = cache
    dvalues = weights[:, :, None] * dctx[:, None, :]
    dw = np.sum(values * dctx[:, None, :], axis=2)
    dscores = weights * (dw - np.sum(weights * dw, axis=1, keepdims=True))
    dv = np.sum(hidden * dscores[:, :, None], axis=(0, 1))
    dpre = dscores[:, :, None] * v  # wrong: times (1 - hidden ** 2)
    dq = dpre.sum(axis=1)
    return dq @ Wq.T, dpre, dvalues, prev_h.T @ dq, dv


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    attention, att_cache, lstm_cache, D = cache
    dxc, dprev_h, dprev_c, dWc, dWh, db = lstm_step_backward(dnext_h, dnext_c, lstm_cache)
    grads = {"Wx": dWc[:D], "Wh": dWh, "b": db, "Wattn": dWc[D:]}
    if attention == "additive":
        _, dkeys, dvalues, grads["Wq"], grads["v"] = additive_attention_backward(
            dctx + dxc[:, D:], att_cache)
    else:
        (_, dvalues), dkeys = dot_attention_backward(dctx + dxc[:, D:], att_cache), None
    return dxc[:, :D], dprev_h, dprev_c, dkeys, dvalues, grads  # wrong: dprev_h + dq


def greedy_decode(h0, c0, keys, values, p, attention, max_length, start=1, end=2, null=0):
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
    return np.stack(out, axis=1), None if attention is None else np.stack(attn, axis=1)
