"""Typical mistakes: greedy sampling off by one (the first caption word is <START> itself and
every later one the word predicted a step earlier), and attention scores without the
1 / sqrt(H) scale, which the attention LSTM, calling it, inherits (and so does the attention
backward, whose test runs this forward)."""

import numpy as np

LOSES = {
    "test_greedy_sample": "own bug: off by one (<START> emitted as the first word)",
    "test_dot_product_attention_forward": "own bug: no 1 / sqrt(H) scale",
    "test_dot_product_attention_backward": "cascade: its test runs the wrong forward",
    "test_attention_lstm_forward": "cascade: it calls the wrong attention forward",
    "test_attention_lstm_backward": "cascade: it runs the wrong attention forward",
}


class CaptioningRNN:
    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        self._null, self._start = word_to_idx["<NULL>"], word_to_idx.get("<START>")
        shapes = {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, W), "Wx": (W, H),
                  "Wh": (H, H), "b": (H,), "W_vocab": (H, V), "b_vocab": (V,)}
        self.params = {k: np.random.randn(*s).astype(dtype) * 0.01 for k, s in shapes.items()}

    def loss(self, features, captions):
        p = self.params
        mask = captions[:, 1:] != self._null
        h0 = features @ p["W_proj"] + p["b_proj"]
        x, ec = word_embedding_forward(captions[:, :-1], p["W_embed"])
        h, rc = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        s, ac = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, ds = temporal_softmax_loss(s, captions[:, 1:], mask)
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(ds, ac)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rc)
        grads["W_embed"] = word_embedding_backward(dx, ec)
        grads["W_proj"], grads["b_proj"] = features.T @ dh0, dh0.sum(0)
        return loss, grads

    def sample(self, features, max_length=30):
        p = self.params
        N = features.shape[0]
        captions = np.zeros((N, max_length), dtype=np.int64)
        h = features @ p["W_proj"] + p["b_proj"]
        word = np.full(N, self._start)
        for t in range(max_length):
            captions[:, t] = word  # wrong: stores the word fed, not the word predicted
            h, _ = rnn_step_forward(p["W_embed"][word], h, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
        return captions


def dot_product_attention_forward(prev_h, A):
    N, H, P, _ = A.shape
    G = A.reshape(N, H, P * P)
    s = np.einsum("nh,nhl->nl", prev_h, G)  # wrong: the scores must be divided by sqrt(H)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nhl,nl->nh", G, w), w.reshape(N, P, P), (prev_h, A, w.reshape(N, P, P))
