"""A sequence tagger: one label per input position, from a deep and/or bidirectional RNN.

    embedding -> L recurrent layers (rnnlib.deep_rnn; bidirectional or not) -> affine -> softmax

The loss is rnnlib's temporal softmax loss over the positions a mask allows, divided by the
batch size as everywhere in rnnlib. Parameters (self.params): W_embed (V, E); for each layer
l = 1..L, Wx{l}, Wh{l}, b{l}, or for a bidirectional model Wx{l}_fwd, ..., b{l}_bwd (the
forward and the backward direction); W_out (H or 2H, C), b_out (C,).

    from rnnlib.models.tagger import SequenceTagger
    model = SequenceTagger(vocab_size=10, num_classes=3, hidden_dim=32, bidirectional=True)
    loss, grads = model.loss(x, y, mask)
"""

import numpy as np

from rnnlib.deep_rnn import init_layer, stacked_backward, stacked_forward
from rnnlib.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

DIRECTIONS = ("fwd", "bwd")


class SequenceTagger:
    """Embedding, a stack of recurrent layers and a per-position classifier.

    Inputs:
    - vocab_size: V, the number of input ids.
    - num_classes: C, the number of labels.
    - hidden_dim: H, per direction.
    - cell_type: 'rnn', 'gru', 'lstm' or 'peephole'.
    - num_layers: L >= 1.
    - bidirectional: whether every layer reads the sequence both ways.
    - wordvec_dim: E (default 16).
    - forget_bias: initial forget-gate bias of the LSTM-family cells.
    - dtype, seed: of the parameters and their initial draw.
    """

    def __init__(self, vocab_size, num_classes, hidden_dim, cell_type="gru", num_layers=1,
                 bidirectional=False, wordvec_dim=16, forget_bias=1.0, dtype=np.float64,
                 seed=0):
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers!r}")
        self.cell_type, self.num_layers = cell_type, int(num_layers)
        self.bidirectional, self.hidden_dim = bool(bidirectional), int(hidden_dim)
        rng = np.random.default_rng(seed)
        V, C, H, E = int(vocab_size), int(num_classes), self.hidden_dim, int(wordvec_dim)
        width = 2 * H if self.bidirectional else H
        params = {"W_embed": rng.standard_normal((V, E))}
        for layer in range(1, self.num_layers + 1):
            p = init_layer(rng, cell_type, E if layer == 1 else width, H, np.float64,
                           self.bidirectional, forget_bias)
            params.update(self._flatten(layer, p))
        params["W_out"] = rng.standard_normal((width, C)) / np.sqrt(width)
        params["b_out"] = np.zeros(C)
        self.params = {k: v.astype(dtype) for k, v in params.items()}

    def _flatten(self, layer, p):
        if not self.bidirectional:
            return {f"{k}{layer}": v for k, v in p.items()}
        return {f"{k}{layer}_{d}": v for d in DIRECTIONS for k, v in p[d].items()}

    def _layers(self):
        """The layers' weights in the nested form rnnlib.deep_rnn takes."""
        def pick(suffix):
            return {k: self.params[f"{k}{suffix}"] for k in ("Wx", "Wh", "b", "Wp")
                    if f"{k}{suffix}" in self.params}

        if self.bidirectional:
            return [{d: pick(f"{layer}_{d}") for d in DIRECTIONS}
                    for layer in range(1, self.num_layers + 1)]
        return [pick(layer) for layer in range(1, self.num_layers + 1)]

    def _h0(self, N):
        shape = (self.num_layers, 2, N, self.hidden_dim) if self.bidirectional else (
            self.num_layers, N, self.hidden_dim)
        return np.zeros(shape, self.params["W_out"].dtype)

    def scores(self, x):
        """Class scores (N, T, C) for integer inputs x (N, T), and the caches."""
        emb, emb_cache = word_embedding_forward(x, self.params["W_embed"])
        h, rnn_cache = stacked_forward(self.cell_type, emb, self._h0(x.shape[0]),
                                       self._layers())
        scores, out_cache = temporal_affine_forward(h, self.params["W_out"],
                                                    self.params["b_out"])
        return scores, (emb_cache, rnn_cache, out_cache)

    def loss(self, x, y, mask):
        """The masked loss and the gradient of every parameter.

        Inputs:
        - x: int array of shape (N, T), input ids.
        - y: int array of shape (N, T), labels in [0, C).
        - mask: bool array of shape (N, T), the positions that count.

        Returns (loss, grads), grads keyed like self.params.
        """
        scores, (emb_cache, rnn_cache, out_cache) = self.scores(x)
        loss, dscores = temporal_softmax_loss(scores, y, mask)
        dh, grads_out_W, grads_out_b = temporal_affine_backward(dscores, out_cache)
        demb, _, layer_grads = stacked_backward(self.cell_type, dh, rnn_cache)
        grads = {"W_out": grads_out_W, "b_out": grads_out_b,
                 "W_embed": word_embedding_backward(demb, emb_cache)}
        for layer, g in enumerate(layer_grads, start=1):
            grads.update(self._flatten(layer, g))
        return loss, grads

    def predict(self, x):
        """The most likely label (N, T) at every position of x (N, T)."""
        return self.scores(x)[0].argmax(axis=2)
