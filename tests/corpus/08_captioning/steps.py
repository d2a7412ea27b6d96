"""Self-contained code that uses none of the paste cell's layers: the captioner keeps its
own per-step loop (embedding rows gathered with W_embed[words], a log-sum-exp per step, the
gradient of the embedding with np.add.at), seeds its initialisation with a Generator, and
samples with a Python loop. Attention computed per example with loops over the batch."""

import numpy as np


class CaptioningRNN:
    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        assert cell_type == "rnn"
        self.word_to_idx = word_to_idx
        self.cell_type, self.dtype = cell_type, dtype
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        rng = np.random.default_rng(231)
        shapes = {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, W), "Wx": (W, H),
                  "Wh": (H, H), "b": (H,), "W_vocab": (H, V), "b_vocab": (V,)}
        self.params = {k: (0.01 * rng.standard_normal(s)).astype(dtype)
                       for k, s in shapes.items()}

    def loss(self, features, captions):
        p = self.params
        N, T = captions.shape
        words_in, words_out = captions[:, :-1], captions[:, 1:]
        h = [features @ p["W_proj"] + p["b_proj"]]
        for t in range(T - 1):
            h.append(np.tanh(p["W_embed"][words_in[:, t]] @ p["Wx"] + h[-1] @ p["Wh"] + p["b"]))
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        loss, dh_next = 0.0, np.zeros_like(h[0])
        douts = []
        for t in range(T - 1):
            s = h[t + 1] @ p["W_vocab"] + p["b_vocab"]
            lse = s.max(axis=1, keepdims=True)
            lse = lse + np.log(np.exp(s - lse).sum(axis=1, keepdims=True))
            keep = (words_out[:, t] != self._null).astype(s.dtype)
            loss += float(np.sum(keep * (lse[:, 0] - s[np.arange(N), words_out[:, t]])))
            ds = np.exp(s - lse)
            ds[np.arange(N), words_out[:, t]] -= 1
            douts.append(ds * keep[:, None] / N)
        for t in reversed(range(T - 1)):
            ds = douts[t]
            grads["W_vocab"] += h[t + 1].T @ ds
            grads["b_vocab"] += ds.sum(axis=0)
            da = (ds @ p["W_vocab"].T + dh_next) * (1 - h[t + 1] ** 2)
            grads["Wx"] += p["W_embed"][words_in[:, t]].T @ da
            grads["Wh"] += h[t].T @ da
            grads["b"] += da.sum(axis=0)
            np.add.at(grads["W_embed"], words_in[:, t], da @ p["Wx"].T)
            dh_next = da @ p["Wh"].T
        grads["W_proj"] = features.T @ dh_next
        grads["b_proj"] = dh_next.sum(axis=0)
        return loss / N, grads

    def sample(self, features, max_length=30):
        p = self.params
        h = features @ p["W_proj"] + p["b_proj"]
        word = np.full(features.shape[0], self._start)
        out = []
        for _ in range(max_length):
            h = np.tanh(p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            out.append(word)
        return np.stack(out, axis=1)


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def dot_product_attention_forward(prev_h, A):
    N, H, P, _ = A.shape
    attn = np.zeros((N, H), dtype=A.dtype)
    weights = np.zeros((N, P, P), dtype=A.dtype)
    for n in range(N):
        grid = A[n].reshape(H, P * P)
        w = _softmax(prev_h[n] @ grid / np.sqrt(H))
        attn[n] = grid @ w
        weights[n] = w.reshape(P, P)
    return attn, weights, (prev_h, A, weights)


def dot_product_attention_backward(dattn, cache):
    prev_h, A, weights = cache
    N, H, P, _ = A.shape
    dprev_h, dA = np.zeros_like(prev_h), np.zeros_like(A)
    for n in range(N):
        grid = A[n].reshape(H, P * P)
        w = weights[n].reshape(P * P)
        dw = dattn[n] @ grid
        ds = w * (dw - w @ dw) / np.sqrt(H)
        dprev_h[n] = grid @ ds
        dA[n] = (np.outer(dattn[n], w) + np.outer(prev_h[n], ds)).reshape(H, P, P)
    return dprev_h, dA


def attention_lstm_forward(x, A, Wx, Wh, Wattn, b):
    N, T, _ = x.shape
    H = A.shape[1]
    h = [A.mean(axis=(2, 3))]
    c = [h[0].copy()]
    steps = []
    for t in range(T):
        attn, _, ac = dot_product_attention_forward(h[-1], A)
        z = x[:, t] @ Wx + h[-1] @ Wh + attn @ Wattn + b
        i, f, o = (1 / (1 + np.exp(-z[:, k * H:(k + 1) * H])) for k in range(3))
        g = np.tanh(z[:, 3 * H:])
        c.append(f * c[-1] + i * g)
        h.append(o * np.tanh(c[-1]))
        steps.append({"i": i, "f": f, "o": o, "g": g, "attn": attn, "ac": ac})
    return np.stack(h[1:], axis=1), {"x": x, "A": A, "W": (Wx, Wh, Wattn), "h": h, "c": c,
                                    "steps": steps}


def attention_lstm_backward(dh, cache):
    x, A, (Wx, Wh, Wattn), hs, cs, steps = (cache[k] for k in ("x", "A", "W", "h", "c", "steps"))
    T = x.shape[1]
    dx = np.zeros_like(x)
    dA = np.zeros_like(A)
    dWx, dWh, dWattn = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wattn)
    db = np.zeros(Wx.shape[1], dtype=dh.dtype)
    gh, gc = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    for t in range(T - 1, -1, -1):
        s = steps[t]
        i, f, o, g = s["i"], s["f"], s["o"], s["g"]
        tc = np.tanh(cs[t + 1])
        dht = dh[:, t] + gh
        dct = gc + dht * o * (1 - tc ** 2)
        dz = np.concatenate([dct * g * i * (1 - i), dct * cs[t] * f * (1 - f),
                             dht * tc * o * (1 - o), dct * i * (1 - g ** 2)], axis=1)
        dx[:, t] = dz @ Wx.T
        dWx += x[:, t].T @ dz
        dWh += hs[t].T @ dz
        dWattn += s["attn"].T @ dz
        db += dz.sum(axis=0)
        dh_a, dA_t = dot_product_attention_backward(dz @ Wattn.T, s["ac"])
        dA += dA_t
        gh = dz @ Wh.T + dh_a
        gc = dct * f
    P2 = A.shape[2] * A.shape[3]
    dA += (gh + gc)[:, :, None, None] / P2
    return dx, dA, dWx, dWh, dWattn, db
