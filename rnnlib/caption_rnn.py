"""The vanilla-RNN image captioner of assignment 8: CS231n's ``CaptioningRNN`` class.

``CaptioningRNN(cell_type='rnn')`` in ``rnnlib.models`` is the class the course trains (with
every cell type, beam search and attention); this one, built only from the layers of
assignments 2 and 3, computes exactly the same loss, gradients and greedy captions (a test
checks that they agree), so that students write it in a notebook with the API of CS231n's
assignment 3 and code written for CS231n pastes in unchanged. Parameters, as in CS231n:
W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, H), Wh (H, H), b (H,), W_vocab (H, V),
b_vocab (V,).
"""

import numpy as np

from rnnlib.layers import (
    affine_backward,
    affine_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnntools.checks import dims, expect_int

__all__ = ["CaptioningRNN"]


class CaptioningRNN:
    """A vanilla-RNN image captioner with CS231n's interface.

    Inputs:
    - word_to_idx: dict giving every word of the vocabulary its index in [0, V), where
      V = len(word_to_idx); it holds '<NULL>' (padding, ignored by the loss) and '<START>'.
    - input_dim: D, the size of an image feature vector.
    - wordvec_dim: W, the size of the word vectors.
    - hidden_dim: H, the size of the hidden state.
    - cell_type: 'rnn' (the only cell of this assignment).
    - dtype: np.float32 for training, np.float64 for gradient checks.
    - seed: the seed of the weight initialisation (np.random.default_rng).

    Parameters (self.params): W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, H),
    Wh (H, H), b (H,), W_vocab (H, V), b_vocab (V,), all of dtype `dtype`.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, seed=0):
        if cell_type != "rnn":
            raise ValueError(f"cell_type must be 'rnn' in this assignment, got {cell_type!r}")
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        rng = np.random.default_rng(seed)
        params = {"W_proj": rng.standard_normal((D, H)) / np.sqrt(D), "b_proj": np.zeros(H),
                  "W_embed": rng.standard_normal((V, W)) / 100,
                  "Wx": rng.standard_normal((W, H)) / np.sqrt(W),
                  "Wh": rng.standard_normal((H, H)) / np.sqrt(H), "b": np.zeros(H),
                  "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H), "b_vocab": np.zeros(V)}
        self.params = {k: v.astype(dtype) for k, v in params.items()}

    def loss(self, features, captions):
        """Loss and gradients on a minibatch of images and their captions.

        The image features, projected by an affine layer, are the initial hidden state. The
        RNN reads captions[:, :-1] and learns to predict captions[:, 1:]; target positions
        holding <NULL> do not count. The loss is the sum of -log p(word) over the counted
        positions divided by N.

        Inputs:
        - features: image features, of shape (N, D).
        - captions: integer array of shape (N, T) of word indices in [0, V), T >= 2.

        Returns a tuple of:
        - loss: a float.
        - grads: dict with the gradient of the loss with respect to every entry of
          self.params, keyed like it, each of the parameter's shape.
        """
        p = self.params
        N = dims("features", features, "(N, D)")[0]
        expect_int("captions", captions, upper=p["W_embed"].shape[0])
        if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
            raise ValueError(f"captions must have shape (N, T) with N = {N} and T >= 2, "
                             f"got {captions.shape}")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null

        h0, proj_cache = affine_forward(features, p["W_proj"], p["b_proj"])
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        h, rnn_cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache)
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedy captions: at every step feed back the most likely word.

        The first word fed is <START> (not part of the output); all max_length steps are
        decoded, as in CS231n, so positions after an <END> hold whatever the model predicts
        next (cut the caption at its first <END> when printing it).

        Inputs:
        - features: image features, of shape (N, D).
        - max_length: T, the number of words to generate.

        Returns:
        - captions: integer array of shape (N, T) of word indices.
        """
        p = self.params
        N = dims("features", features, "(N, D)")[0]
        h, _ = affine_forward(features, p["W_proj"], p["b_proj"])
        captions = np.empty((N, max_length), dtype=np.int64)
        word = np.full(N, self._start, dtype=np.int64)
        for t in range(max_length):
            h, _ = rnn_step_forward(p["W_embed"][word], h, p["Wx"], p["Wh"], p["b"])
            scores = h @ p["W_vocab"] + p["b_vocab"]
            word = np.argmax(scores, axis=1)
            captions[:, t] = word
        return captions
