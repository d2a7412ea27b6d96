"""A CS231n CaptioningRNN as students wrote it for CS231n, pasted unchanged: the CS231n
constructor (np.random.randn initialisation, dim_mul for 'lstm', no seed argument), loss and
sample built from the paste cell's layers (word_embedding_*, rnn_*, temporal_affine_*,
temporal_softmax_loss), the projection written as features.dot(W_proj) + b_proj. The
attention functions loop over time and call the step functions, with list caches."""

import numpy as np


class CaptioningRNN:
    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        if cell_type not in {"rnn", "lstm"}:
            raise ValueError('Invalid cell_type "%s"' % cell_type)

        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}

        vocab_size = len(word_to_idx)

        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

        self.params["W_embed"] = np.random.randn(vocab_size, wordvec_dim)
        self.params["W_embed"] /= 100

        self.params["W_proj"] = np.random.randn(input_dim, hidden_dim)
        self.params["W_proj"] /= np.sqrt(input_dim)
        self.params["b_proj"] = np.zeros(hidden_dim)

        dim_mul = {"lstm": 4, "rnn": 1}[cell_type]
        self.params["Wx"] = np.random.randn(wordvec_dim, dim_mul * hidden_dim)
        self.params["Wx"] /= np.sqrt(wordvec_dim)
        self.params["Wh"] = np.random.randn(hidden_dim, dim_mul * hidden_dim)
        self.params["Wh"] /= np.sqrt(hidden_dim)
        self.params["b"] = np.zeros(dim_mul * hidden_dim)

        self.params["W_vocab"] = np.random.randn(hidden_dim, vocab_size)
        self.params["W_vocab"] /= np.sqrt(hidden_dim)
        self.params["b_vocab"] = np.zeros(vocab_size)

        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def loss(self, features, captions):
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null

        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        W_embed = self.params["W_embed"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        loss, grads = 0.0, {}
        h0 = features.dot(W_proj) + b_proj
        x, cache_embed = word_embedding_forward(captions_in, W_embed)
        if self.cell_type == "rnn":
            h, cache_rnn = rnn_forward(x, h0, Wx, Wh, b)
        else:
            h, cache_rnn = lstm_forward(x, h0, Wx, Wh, b)
        scores, cache_scores = temporal_affine_forward(h, W_vocab, b_vocab)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, cache_scores)
        if self.cell_type == "rnn":
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, cache_rnn)
        else:
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(
                dh, cache_rnn)
        grads["W_embed"] = word_embedding_backward(dx, cache_embed)
        grads["W_proj"] = features.T.dot(dh0)
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads

    def sample(self, features, max_length=30):
        N = features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)

        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        W_embed = self.params["W_embed"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        prev_h = features.dot(W_proj) + b_proj
        prev_c = np.zeros_like(prev_h)
        prev_word = self._start * np.ones(N, dtype=np.int32)
        for t in range(max_length):
            x, _ = word_embedding_forward(prev_word, W_embed)
            if self.cell_type == "rnn":
                prev_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
            else:
                prev_h, prev_c, _ = lstm_step_forward(
                    x, prev_h, prev_c, Wx, Wh, b)
            scores, _ = temporal_affine_forward(prev_h[:, np.newaxis, :], W_vocab, b_vocab)
            idx_best = np.squeeze(np.argmax(scores, axis=2))
            captions[:, t] = idx_best
            prev_word = captions[:, t]
        return captions


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _attn_lstm_step(x, prev_h, prev_c, Wx, Wh, b, attn, Wattn):
    H = prev_h.shape[1]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + np.dot(attn, Wattn) + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, attn, i, f, o, g, next_c)


def _attn_lstm_step_backward(dnext_h, dnext_c, cache, Wx, Wh, Wattn):
    x, prev_h, prev_c, attn, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dnext_c += dnext_h * o * (1 - tanh_c ** 2)  # in place
    da = np.hstack((dnext_c * g * i * (1 - i), dnext_c * prev_c * f * (1 - f),
                    dnext_h * tanh_c * o * (1 - o), dnext_c * i * (1 - g ** 2)))
    return (np.dot(da, Wx.T), np.dot(da, Wh.T), dnext_c * f, np.dot(da, Wattn.T),
            np.dot(x.T, da), np.dot(prev_h.T, da), np.dot(attn.T, da), np.sum(da, axis=0))


def dot_product_attention_forward(prev_h, A):
    N, H, D_a, _ = A.shape
    A_flat = A.reshape(N, H, -1)
    M = np.matmul(prev_h.reshape(N, 1, H), A_flat) / np.sqrt(H)
    M = M - np.max(M, axis=2, keepdims=True)
    weights = np.exp(M) / np.sum(np.exp(M), axis=2, keepdims=True)
    attn = np.matmul(A_flat, weights.reshape(N, -1, 1)).reshape(N, H)
    attn_weights = weights.reshape(N, D_a, D_a)
    cache = (prev_h, A, attn_weights)
    return attn, attn_weights, cache


def dot_product_attention_backward(dattn, cache):
    prev_h, A, attn_weights = cache
    N, H, D_a, _ = A.shape
    A_flat = A.reshape(N, H, -1)
    w = attn_weights.reshape(N, 1, -1)
    dA_flat = dattn.reshape(N, H, 1) * w
    dw = np.matmul(dattn.reshape(N, 1, H), A_flat)
    dM = w * (dw - np.sum(w * dw, axis=2, keepdims=True))
    dprev_h = np.matmul(dM, A_flat.transpose(0, 2, 1)).reshape(N, H) / np.sqrt(H)
    dA_flat += np.matmul(prev_h.reshape(N, H, 1), dM) / np.sqrt(H)
    return dprev_h, dA_flat.reshape(N, H, D_a, D_a)


def attention_lstm_forward(x, A, Wx, Wh, Wattn, b):
    N, T, _ = x.shape
    H = A.shape[1]
    h0 = A.mean(axis=(2, 3))
    prev_h, prev_c = h0, h0
    h = np.zeros((N, T, H), dtype=x.dtype)
    caches = []
    for t in range(T):
        attn, _, attn_cache = dot_product_attention_forward(prev_h, A)
        prev_h, prev_c, step = _attn_lstm_step(x[:, t], prev_h, prev_c, Wx, Wh, b, attn, Wattn)
        h[:, t] = prev_h
        caches.append((step, attn_cache))
    return h, (caches, A, Wx, Wh, Wattn)


def attention_lstm_backward(dh, cache):
    caches, A, Wx, Wh, Wattn = cache
    N, T, H = dh.shape
    dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)
    dA = np.zeros_like(A)
    dWx, dWh, dWattn = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(Wattn)
    db = np.zeros(4 * H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    dprev_c = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        step, attn_cache = caches[t]
        dx[:, t], dprev_h_t, dprev_c, dattn, dWx_t, dWh_t, dWattn_t, db_t = \
            _attn_lstm_step_backward(dh[:, t] + dprev_h, dprev_c, step, Wx, Wh, Wattn)
        dprev_h_a, dA_t = dot_product_attention_backward(dattn, attn_cache)
        dprev_h = dprev_h_t + dprev_h_a
        dA += dA_t
        dWx += dWx_t
        dWh += dWh_t
        dWattn += dWattn_t
        db += db_t
    P2 = A.shape[2] * A.shape[3]
    dA += ((dprev_h + dprev_c) / P2)[:, :, None, None]
    return dx, dA, dWx, dWh, dWattn, db
