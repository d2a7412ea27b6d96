"""Typical mistakes: the embedding gradient with dW[x] += dout (repeated words counted once),
the softmax loss with the max-subtracted softmax then log (underflows into log(0) when the
correct class is far below the maximum), and the temperature multiplied instead of
dividing, which sample_next, calling it, inherits."""

import numpy as np

LOSES = {
    "test_word_embedding_backward": "own bug: dW[x] += dout loses repeated words",
    "test_temporal_softmax_loss": "own bug: log of an underflowed probability (no log-sum-exp)",
    "test_softmax_with_temperature": "own bug: scores * temperature",
    "test_sample_next": "cascade: sample_next calls the wrong softmax_with_temperature",
}


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] += dout  # wrong: a repeated index gets only one of its gradients
    return dW


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    e = np.exp(x - x.max(axis=2, keepdims=True))
    p = e / e.sum(axis=2, keepdims=True)
    picked = np.take_along_axis(p, y[..., None], axis=2)[..., 0]
    with np.errstate(divide="ignore"):
        loss = -np.sum(mask * np.log(picked)) / N  # wrong: log(0) = -inf on far-off classes
    dx = p.copy()
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1,
                      axis=2)
    return float(loss), (dx * mask[..., None] / N).astype(x.dtype)


def softmax_with_temperature(scores, temperature=1.0):
    z = scores * temperature  # wrong: the temperature divides the scores
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
