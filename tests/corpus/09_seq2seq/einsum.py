"""The decoder written with einsum and its own softmax (not the given one): the attention's
caches are dicts, the decoder step computes its LSTM gates inline instead of calling
lstm_step_forward (and its backward inline too), and greedy decoding fills a preallocated
array of <NULL> and cuts it at the last step it ran."""

import numpy as np


def additive_attention_forward(prev_h, keys, values, Wq, v):
    t = np.tanh(np.einsum("nh,ha->na", prev_h, Wq)[:, None] + keys)
    e = np.einsum("nsa,a->ns", t, v)
    w = np.exp(e - e.max(axis=1, keepdims=True))
    w = w / w.sum(axis=1, keepdims=True)
    ctx = np.einsum("ns,nsh->nh", w, values)
    return ctx, w, {"prev_h": prev_h, "values": values, "Wq": Wq, "v": v, "t": t, "w": w}


def additive_attention_backward(dctx, cache):
    w, t, v = cache["w"], cache["t"], cache["v"]
    dvalues = np.einsum("ns,nh->nsh", w, dctx)
    dw = np.einsum("nsh,nh->ns", cache["values"], dctx)
    de = w * dw - w * np.einsum("ns,ns->n", w, dw)[:, None]
    dv = np.einsum("ns,nsa->a", de, t)
    dkeys = np.einsum("ns,a,nsa->nsa", de, v, 1 - t ** 2)
    dq = dkeys.sum(axis=1)
    return (np.einsum("na,ha->nh", dq, cache["Wq"]), dkeys, dvalues,
            np.einsum("nh,na->ha", cache["prev_h"], dq), dv)


def dot_attention_forward(prev_h, values):
    e = np.einsum("nh,nsh->ns", prev_h, values) / np.sqrt(prev_h.shape[1])
    w = np.exp(e - e.max(axis=1, keepdims=True))
    w = w / w.sum(axis=1, keepdims=True)
    return np.einsum("ns,nsh->nh", w, values), w, {"prev_h": prev_h, "values": values, "w": w}


def dot_attention_backward(dctx, cache):
    w, values, prev_h = cache["w"], cache["values"], cache["prev_h"]
    dw = np.einsum("nsh,nh->ns", values, dctx)
    de = (w * dw - w * np.einsum("ns,ns->n", w, dw)[:, None]) / np.sqrt(prev_h.shape[1])
    dvalues = np.einsum("ns,nh->nsh", w, dctx) + np.einsum("ns,nh->nsh", de, prev_h)
    return np.einsum("ns,nsh->nh", de, values), dvalues


def _gate(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def attention_decoder_step_forward(x, prev_h, prev_c, keys, values, p, attention):
    if attention == "additive":
        ctx, weights, acache = additive_attention_forward(prev_h, keys, values, p["Wq"], p["v"])
    else:
        ctx, weights, acache = dot_attention_forward(prev_h, values)
    a = (np.einsum("nd,dk->nk", x, p["Wx"]) + np.einsum("nh,hk->nk", ctx, p["Wattn"])
         + np.einsum("nh,hk->nk", prev_h, p["Wh"]) + p["b"])
    i, f, o, g = np.split(a, 4, axis=1)
    i, f, o, g = _gate(i), _gate(f), _gate(o), np.tanh(g)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = {"attention": attention, "acache": acache, "x": x, "prev_h": prev_h,
             "prev_c": prev_c, "ctx": ctx, "gates": (i, f, o, g), "next_c": next_c, "p": p}
    return next_h, next_c, ctx, weights, cache


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    i, f, o, g = cache["gates"]
    p = cache["p"]
    tc = np.tanh(cache["next_c"])
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    da = np.concatenate([dc * g * i * (1 - i), dc * cache["prev_c"] * f * (1 - f),
                         dnext_h * tc * o * (1 - o), dc * i * (1 - g * g)], axis=1)
    grads = {"Wx": np.einsum("nd,nk->dk", cache["x"], da),
             "Wh": np.einsum("nh,nk->hk", cache["prev_h"], da), "b": da.sum(axis=0),
             "Wattn": np.einsum("nh,nk->hk", cache["ctx"], da)}
    dctx = dctx + np.einsum("nk,hk->nh", da, p["Wattn"])
    dprev_h = np.einsum("nk,hk->nh", da, p["Wh"])
    if cache["attention"] == "additive":
        dq, dkeys, dvalues, grads["Wq"], grads["v"] = additive_attention_backward(
            dctx, cache["acache"])
    else:
        (dq, dvalues), dkeys = dot_attention_backward(dctx, cache["acache"]), None
    return (np.einsum("nk,dk->nd", da, p["Wx"]), dprev_h + dq, dc * f, dkeys, dvalues,
            grads)


def greedy_decode(h0, c0, keys, values, p, attention, max_length, start=1, end=2, null=0):
    N = len(h0)
    out = np.full((N, max_length), null, dtype=np.int64)
    attn = np.zeros((N, max_length, values.shape[1]))
    alive = np.ones(N, dtype=bool)
    prev, h, c, steps = np.full(N, start), h0, c0, 0
    while steps < max_length and alive.any():
        scores, h, c, w, _ = decoder_step_forward(prev, h, c, keys, values, p, attention)
        prev = np.where(alive, np.argmax(scores, axis=1), null)
        out[:, steps] = prev
        if w is not None:
            attn[:, steps] = w
        alive &= prev != end
        steps += 1
    return out[:, :steps], (attn[:, :steps] if attention is not None else None)
