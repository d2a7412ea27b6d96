"""CS231n's own layers pasted unchanged (lstm_step_forward and lstm_step_backward without
the optional attention arguments, six gradients back; word_embedding_forward as W[x]), and
the decoder's functions written with loops: both attentions score one source position at a
time (the additive one keeps a list cache), the decoder step stacks its inputs with
np.hstack and np.vstack, and greedy decoding fills a list row by row in a Python loop."""

import numpy as np


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = _sigmoid(a[:, :H])
    f = _sigmoid(a[:, H:2 * H])
    o = _sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    do = dnext_h * tc
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    df, di, dg = dc * prev_c, dc * g, dc * i
    dprev_c = dc * f
    da = np.hstack((di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)))
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def word_embedding_forward(x, W):
    out = W[x, :]
    return out, (x, W)


def additive_attention_forward(prev_h, keys, values, Wq, v):
    N, S, _ = keys.shape
    q = prev_h.dot(Wq)
    hidden, scores = [], np.zeros((N, S))
    for j in range(S):
        hidden.append(np.tanh(q + keys[:, j, :]))
        scores[:, j] = hidden[j].dot(v)
    scores -= np.max(scores, axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= np.sum(weights, axis=1, keepdims=True)
    ctx = np.zeros_like(prev_h)
    for j in range(S):
        ctx += weights[:, j:j + 1] * values[:, j, :]
    return ctx, weights, (prev_h, keys, values, Wq, v, hidden, weights)


def additive_attention_backward(dctx, cache):
    prev_h, keys, values, Wq, v, hidden, weights = cache
    N, S, _ = keys.shape
    dweights = np.zeros((N, S))
    dvalues = np.zeros_like(values)
    for j in range(S):
        dweights[:, j] = np.sum(dctx * values[:, j, :], axis=1)
        dvalues[:, j, :] = weights[:, j:j + 1] * dctx
    dscores = weights * (dweights - np.sum(weights * dweights, axis=1, keepdims=True))
    dkeys = np.zeros_like(keys)
    dq = np.zeros((N, Wq.shape[1]))
    dv = np.zeros_like(v)
    for j in range(S):
        dv += hidden[j].T.dot(dscores[:, j])
        dpre = dscores[:, j:j + 1] * v * (1 - hidden[j] ** 2)
        dkeys[:, j, :] = dpre
        dq += dpre
    return dq.dot(Wq.T), dkeys, dvalues, prev_h.T.dot(dq), dv


def dot_attention_forward(prev_h, values):
    N, S, H = values.shape
    scores = np.zeros((N, S))
    for j in range(S):
        scores[:, j] = np.sum(prev_h * values[:, j, :], axis=1) / np.sqrt(H)
    weights = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    weights /= np.sum(weights, axis=1, keepdims=True)
    ctx = np.zeros_like(prev_h)
    for j in range(S):
        ctx += weights[:, j:j + 1] * values[:, j, :]
    return ctx, weights, [prev_h, values, weights]


def dot_attention_backward(dctx, cache):
    prev_h, values, weights = cache
    N, S, H = values.shape
    dweights = np.zeros((N, S))
    dvalues = np.zeros_like(values)
    for j in range(S):
        dweights[:, j] = np.sum(dctx * values[:, j, :], axis=1)
        dvalues[:, j, :] = weights[:, j:j + 1] * dctx
    dscores = weights * (dweights - np.sum(weights * dweights, axis=1, keepdims=True))
    dscores /= np.sqrt(H)
    dprev_h = np.zeros_like(prev_h)
    for j in range(S):
        dprev_h += dscores[:, j:j + 1] * values[:, j, :]
        dvalues[:, j, :] += dscores[:, j:j + 1] * prev_h
    return dprev_h, dvalues


def attention_decoder_step_forward(x, prev_h, prev_c, keys, values, p, attention):
    if attention == "additive":
        ctx, weights, att_cache = additive_attention_forward(prev_h, keys, values, p["Wq"],
                                                             p["v"])
    else:
        ctx, weights, att_cache = dot_attention_forward(prev_h, values)
    next_h, next_c, lstm_cache = lstm_step_forward(
        np.hstack((x, ctx)), prev_h, prev_c, np.vstack((p["Wx"], p["Wattn"])), p["Wh"],
        p["b"])
    cache = {"attention": attention, "att": att_cache, "lstm": lstm_cache, "D": x.shape[1]}
    return next_h, next_c, ctx, weights, cache


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    D = cache["D"]
    dxc, dprev_h, dprev_c, dWxc, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache["lstm"])
    grads = {"Wx": dWxc[:D], "Wattn": dWxc[D:], "Wh": dWh, "b": db}
    dctx_total = dctx + dxc[:, D:]
    if cache["attention"] == "additive":
        dq, dkeys, dvalues, grads["Wq"], grads["v"] = additive_attention_backward(
            dctx_total, cache["att"])
    else:
        dq, dvalues = dot_attention_backward(dctx_total, cache["att"])
        dkeys = None
    return dxc[:, :D], dprev_h + dq, dprev_c, dkeys, dvalues, grads


def greedy_decode(h0, c0, keys, values, p, attention, max_length, start=1, end=2, null=0):
    N = h0.shape[0]
    rows = [[] for _ in range(N)]
    all_weights = []
    finished = [False] * N
    tokens = np.array([start] * N)
    h, c = h0, c0
    for _ in range(max_length):
        scores, h, c, weights, _ = decoder_step_forward(tokens, h, c, keys, values, p,
                                                        attention)
        best = np.argmax(scores, axis=1)
        for n in range(N):
            rows[n].append(null if finished[n] else int(best[n]))
            if rows[n][-1] == end:
                finished[n] = True
        tokens = np.array([row[-1] for row in rows])
        all_weights.append(weights)
        if all(finished):
            break
    weights = None if attention is None else np.stack(all_weights, axis=1)
    return np.array(rows, dtype=np.int64), weights
