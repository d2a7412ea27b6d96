"""The vanilla-RNN image captioner as two pure functions (assignment 8).

``CaptioningRNN(cell_type='rnn')`` in ``rnnlib.models`` is the class the course trains; these
functions compute exactly the same loss, gradients and greedy captions from an explicit dict of
parameters (a test checks that they agree), so that students can write them in a notebook from
the layers of assignments 2 and 3. Parameters, as in CS231n: W_proj (D, H), b_proj (H,),
W_embed (V, W), Wx (W, H), Wh (H, H), b (H,), W_vocab (H, V), b_vocab (V,).
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


def captioning_loss(features, captions, params, null_idx=0):
    """Loss and gradients of a vanilla-RNN captioner on a minibatch.

    The image features, projected by an affine layer, are the initial hidden state. The RNN
    reads captions[:, :-1] and learns to predict captions[:, 1:]; target positions holding
    the <NULL> token do not count. The loss is the sum of -log p(word) over the counted
    positions divided by N.

    Inputs:
    - features: image features, of shape (N, D).
    - captions: integer array of shape (N, T) of word indices in [0, V), T >= 2.
    - params: dict with W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, H), Wh (H, H),
      b (H,), W_vocab (H, V), b_vocab (V,).
    - null_idx: the index of the <NULL> token.

    Returns a tuple of:
    - loss: float.
    - grads: dict with the gradient of the loss with respect to every entry of params, keyed
      like params, each of the parameter's shape.
    """
    N = dims("features", features, "(N, D)")[0]
    expect_int("captions", captions, upper=params["W_embed"].shape[0])
    if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
        raise ValueError(f"captions must have shape (N, T) with N = {N} and T >= 2, "
                         f"got {captions.shape}")

    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null_idx
    p = params

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


def greedy_sample(features, params, start_idx, max_length=30):
    """Greedy captions: at every step feed back the most likely word.

    The first word fed is <START> (not part of the output); all max_length steps are decoded,
    as in CS231n, so positions after an <END> hold whatever the model predicts next.

    Inputs:
    - features: image features, of shape (N, D).
    - params: dict of parameters, as for captioning_loss.
    - start_idx: the index of the <START> token.
    - max_length: T, the number of words to generate.

    Returns:
    - captions: int64 array of shape (N, T) of word indices.
    """
    N = dims("features", features, "(N, D)")[0]
    p = params

    h, _ = affine_forward(features, p["W_proj"], p["b_proj"])
    captions = np.empty((N, max_length), dtype=np.int64)
    word = np.full(N, start_idx, dtype=np.int64)
    for t in range(max_length):
        h, _ = rnn_step_forward(p["W_embed"][word], h, p["Wx"], p["Wh"], p["b"])
        scores = h @ p["W_vocab"] + p["b_vocab"]
        word = np.argmax(scores, axis=1)
        captions[:, t] = word
    return captions
