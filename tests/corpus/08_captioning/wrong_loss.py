"""A captioner whose loss counts the padding: every target position enters the loss, <NULL>
included (no mask), and the loss is divided by the number of words instead of N. Greedy
sampling is right, so only the loss's question is lost."""

import numpy as np

LOSES = {
    "test_captioning_loss": "own bug: <NULL> positions counted, mean over words",
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
        y = captions[:, 1:]
        h0 = features @ p["W_proj"] + p["b_proj"]
        x, ec = word_embedding_forward(captions[:, :-1], p["W_embed"])
        h, rc = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        s, ac = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        # wrong: the mask of <NULL> targets is missing, and the mean runs over N * T words
        z = s - s.max(axis=2, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
        N, T = y.shape
        loss = -np.take_along_axis(logp, y[:, :, None], axis=2).sum() / (N * T)
        ds = np.exp(logp)
        np.put_along_axis(ds, y[:, :, None], np.take_along_axis(ds, y[:, :, None], 2) - 1, 2)
        ds /= N * T
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
            h, _ = rnn_step_forward(p["W_embed"][word], h, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            captions[:, t] = word
        return captions
