"""einsum everywhere and dict caches: the captioner reuses the paste cell's step function in
a loop of its own (rnn_step_forward / rnn_step_backward) with the loss from
temporal_softmax_loss, keeps the dtype of its parameters, and samples with a preallocated
int64 array; attention with einsum over the flattened grid; the attention LSTM's forward
vectorises the input projection over all steps."""

import numpy as np


class CaptioningRNN:
    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        self.word_to_idx, self.cell_type, self.dtype = word_to_idx, cell_type, dtype
        self._null, self._start = word_to_idx["<NULL>"], word_to_idx.get("<START>", 1)
        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        rs = np.random.RandomState(0)
        self.params = {
            "W_proj": rs.randn(D, H) / np.sqrt(D), "b_proj": np.zeros(H),
            "W_embed": rs.randn(V, W) / 100, "Wx": rs.randn(W, H) / np.sqrt(W),
            "Wh": rs.randn(H, H) / np.sqrt(H), "b": np.zeros(H),
            "W_vocab": rs.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V)}
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}

    def loss(self, features, captions):
        P = self.params
        cin, cout = captions[:, :-1], captions[:, 1:]
        h = np.einsum("nd,dh->nh", features, P["W_proj"]) + P["b_proj"]
        hs, caches = [], []
        for t in range(cin.shape[1]):
            h, cache = rnn_step_forward(P["W_embed"][cin[:, t]], h, P["Wx"], P["Wh"], P["b"])
            hs.append(h)
            caches.append(cache)
        H = np.stack(hs, axis=1)
        scores = np.einsum("nth,hv->ntv", H, P["W_vocab"]) + P["b_vocab"]
        loss, dscores = temporal_softmax_loss(scores, cout, cout != self._null)
        g = {"W_vocab": np.einsum("nth,ntv->hv", H, dscores),
             "b_vocab": np.einsum("ntv->v", dscores), "W_embed": np.zeros_like(P["W_embed"]),
             "Wx": np.zeros_like(P["Wx"]), "Wh": np.zeros_like(P["Wh"]),
             "b": np.zeros_like(P["b"])}
        dH = np.einsum("ntv,hv->nth", dscores, P["W_vocab"])
        carry = np.zeros_like(h)
        for t in reversed(range(cin.shape[1])):
            dx, carry, dWx, dWh, db = rnn_step_backward(dH[:, t] + carry, caches[t])
            np.add.at(g["W_embed"], cin[:, t], dx)
            g["Wx"] += dWx
            g["Wh"] += dWh
            g["b"] += db
        g["W_proj"] = np.einsum("nd,nh->dh", features, carry)
        g["b_proj"] = carry.sum(axis=0)
        return float(loss), g

    def sample(self, features, max_length=30):
        P = self.params
        N = len(features)
        out = np.zeros((N, max_length), dtype=np.int64)
        h = features @ P["W_proj"] + P["b_proj"]
        prev = np.full(N, self._start, dtype=np.int64)
        for t in range(max_length):
            h, _ = rnn_step_forward(P["W_embed"][prev], h, P["Wx"], P["Wh"], P["b"])
            prev = out[:, t] = (h @ P["W_vocab"] + P["b_vocab"]).argmax(axis=1)
        return out


def dot_product_attention_forward(prev_h, A):
    N, H, P, _ = A.shape
    G = A.reshape(N, H, P * P)
    s = np.einsum("nh,nhl->nl", prev_h, G) / np.sqrt(H)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nhl,nl->nh", G, w), w.reshape(N, P, P), {"h": prev_h, "A": A, "w": w}


def dot_product_attention_backward(dattn, cache):
    prev_h, A, w = cache["h"], cache["A"], cache["w"]
    N, H, P, _ = A.shape
    G = A.reshape(N, H, P * P)
    dw = np.einsum("nh,nhl->nl", dattn, G)
    ds = w * (dw - np.einsum("nl,nl->n", w, dw)[:, None]) / np.sqrt(H)
    dG = np.einsum("nh,nl->nhl", dattn, w) + np.einsum("nh,nl->nhl", prev_h, ds)
    return np.einsum("nl,nhl->nh", ds, G), dG.reshape(A.shape)


def attention_lstm_forward(x, A, Wx, Wh, Wattn, b):
    N, T, D = x.shape
    H = A.shape[1]
    proj = np.einsum("ntd,dk->tnk", x, Wx) + b
    h, c = A.mean(axis=(2, 3)), A.mean(axis=(2, 3))
    out = np.empty((N, T, H), dtype=x.dtype)
    rec = []
    for t in range(T):
        attn, _, ac = dot_product_attention_forward(h, A)
        a = proj[t] + h @ Wh + attn @ Wattn
        sig = 1 / (1 + np.exp(-a[:, :3 * H]))
        g = np.tanh(a[:, 3 * H:])
        c_new = sig[:, H:2 * H] * c + sig[:, :H] * g
        h_new = sig[:, 2 * H:] * np.tanh(c_new)
        rec.append({"x": x[:, t], "h": h, "c": c, "sig": sig, "g": g, "c_new": c_new,
                    "attn": attn, "ac": ac})
        h, c = h_new, c_new
        out[:, t] = h
    return out, {"rec": rec, "W": (Wx, Wh, Wattn), "A": A}


def attention_lstm_backward(dh, cache):
    rec, (Wx, Wh, Wattn), A = cache["rec"], cache["W"], cache["A"]
    N, T, H = dh.shape
    dx = np.empty((N, T, Wx.shape[0]), dtype=dh.dtype)
    dA = np.zeros_like(A)
    grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wattn),
             np.zeros(4 * H, dtype=dh.dtype)]
    gh = np.zeros((N, H), dtype=dh.dtype)
    gc = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        r = rec[t]
        i, f, o = r["sig"][:, :H], r["sig"][:, H:2 * H], r["sig"][:, 2 * H:]
        tc = np.tanh(r["c_new"])
        dht = dh[:, t] + gh
        dct = gc + dht * o * (1 - tc * tc)
        da = np.concatenate([dct * r["g"] * i * (1 - i), dct * r["c"] * f * (1 - f),
                             dht * tc * o * (1 - o), dct * i * (1 - r["g"] ** 2)], axis=1)
        dx[:, t] = da @ Wx.T
        for k, (left, acc) in enumerate(zip((r["x"], r["h"], r["attn"]), grads)):
            acc += left.T @ da
        grads[3] += da.sum(axis=0)
        dph, dAt = dot_product_attention_backward(da @ Wattn.T, r["ac"])
        dA += dAt
        gh = da @ Wh.T + dph
        gc = dct * f
    dA += np.expand_dims((gh + gc) / (A.shape[2] * A.shape[3]), (2, 3))
    return dx, dA, grads[0], grads[1], grads[2], grads[3]
