"""The decoder written with in-place updates and no helper of the notebook: each attention
computes its softmax in place on its scores (and its backward in place on the weights'
gradient), the decoder step calls lstm_step_forward with the attention arguments of this
course's assignment 5 (attn, Wattn) instead of stacking, and greedy decoding keeps a
running count of the finished rows in a while loop."""

import numpy as np


def _softmax_inplace(e):
    e -= e.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def additive_attention_forward(prev_h, keys, values, Wq, v):
    pre = keys + np.matmul(prev_h, Wq)[:, np.newaxis, :]
    np.tanh(pre, out=pre)
    weights = _softmax_inplace(np.matmul(pre, v))
    ctx = np.matmul(weights[:, np.newaxis, :], values).squeeze(1)
    return ctx, weights, (weights, pre, values, prev_h, Wq, v)


def additive_attention_backward(dctx, cache):
    weights, t, values, prev_h, Wq, v = cache
    dvalues = np.multiply(weights[:, :, np.newaxis], dctx[:, np.newaxis, :])
    de = np.matmul(values, dctx[:, :, np.newaxis]).squeeze(2)
    de -= (weights * de).sum(axis=1, keepdims=True)
    de *= weights
    dv = np.tensordot(de, t, axes=([0, 1], [0, 1]))
    dkeys = 1 - t * t
    dkeys *= v
    dkeys *= de[:, :, np.newaxis]
    dq = dkeys.sum(axis=1)
    return np.matmul(dq, Wq.T), dkeys, dvalues, np.matmul(prev_h.T, dq), dv


def dot_attention_forward(prev_h, values):
    e = np.matmul(values, prev_h[:, :, np.newaxis]).squeeze(2)
    e /= np.sqrt(prev_h.shape[1])
    weights = _softmax_inplace(e)
    ctx = np.matmul(weights[:, np.newaxis, :], values).squeeze(1)
    return ctx, weights, (weights, values, prev_h)


def dot_attention_backward(dctx, cache):
    weights, values, prev_h = cache
    de = np.matmul(values, dctx[:, :, np.newaxis]).squeeze(2)
    de -= (weights * de).sum(axis=1, keepdims=True)
    de *= weights
    de /= np.sqrt(prev_h.shape[1])
    dvalues = weights[:, :, np.newaxis] * dctx[:, np.newaxis, :]
    dvalues += de[:, :, np.newaxis] * prev_h[:, np.newaxis, :]
    return np.matmul(de[:, np.newaxis, :], values).squeeze(1), dvalues


def attention_decoder_step_forward(x, prev_h, prev_c, keys, values, p, attention):
    if attention not in ("additive", "dot"):
        raise ValueError(attention)
    if attention == "dot":
        ctx, weights, att = dot_attention_forward(prev_h, values)
    else:
        ctx, weights, att = additive_attention_forward(prev_h, keys, values, p["Wq"], p["v"])
    next_h, next_c, lstm = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"],
                                             ctx, p["Wattn"])
    return next_h, next_c, ctx, weights, (lstm, att, attention)


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    lstm, att, attention = cache
    dx, dprev_h, dprev_c, dWx, dWh, db, dattn, dWattn = lstm_step_backward(dnext_h, dnext_c,
                                                                            lstm)
    dattn += dctx
    grads = {"Wx": dWx, "Wh": dWh, "b": db, "Wattn": dWattn}
    dkeys = None
    if attention == "dot":
        dq, dvalues = dot_attention_backward(dattn, att)
    else:
        dq, dkeys, dvalues, grads["Wq"], grads["v"] = additive_attention_backward(dattn, att)
    dprev_h += dq
    return dx, dprev_h, dprev_c, dkeys, dvalues, grads


def greedy_decode(h0, c0, keys, values, p, attention, max_length, start=1, end=2, null=0):
    N = h0.shape[0]
    previous = np.full(N, start)
    ended = np.zeros(N, dtype=bool)
    steps, weights_by_step, state = [], [], (h0, c0)
    while len(steps) < max_length and ended.sum() < N:
        scores, h, c, w, _ = decoder_step_forward(previous, *state, keys, values, p, attention)
        state = (h, c)
        previous = scores.argmax(axis=1)
        previous[ended] = null
        ended |= previous == end
        steps.append(previous)
        weights_by_step.append(w)
    tokens = np.column_stack(steps)
    return tokens, (np.stack(weights_by_step, 1) if attention is not None else None)
