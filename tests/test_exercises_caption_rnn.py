"""rnnlib.caption_rnn (assignment 8) gives exactly what CaptioningRNN(cell_type='rnn') gives:
the same loss, gradients and greedy captions from the same parameters."""

import numpy as np
import pytest

from rnnlib.caption_rnn import captioning_loss, greedy_sample
from rnnlib.models import CaptioningRNN


def _model(seed, D=6, W=5, H=7, V=9):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    word_to_idx.update({f"w{i}": i for i in range(3, V)})
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type="rnn", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    for k, v in model.params.items():  # not the initial values: biases must matter too
        model.params[k] = rng.standard_normal(v.shape) * 0.5
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_and_gradients_equal_the_model(seed):
    model = _model(seed)
    rng = np.random.default_rng(100 + seed)
    N, T = 4, 6
    features = rng.standard_normal((N, model.input_dim))
    captions = rng.integers(1, len(model.word_to_idx), size=(N, T))
    captions[1, 3:] = 0
    loss, grads = model.loss(features, captions)
    f_loss, f_grads = captioning_loss(features, captions, dict(model.params))
    assert f_loss == pytest.approx(loss, rel=1e-13)
    assert set(f_grads) == set(grads)
    for k in grads:
        np.testing.assert_allclose(f_grads[k], grads[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_sample_equals_the_model(seed):
    model = _model(seed)
    features = np.random.default_rng(seed).standard_normal((5, model.input_dim))
    expected = model.sample(features, max_length=8)
    got = greedy_sample(features, dict(model.params), start_idx=1, max_length=8)
    np.testing.assert_array_equal(got, expected)


def test_published_cs231n_loss():
    N, D, W, H, T = 10, 20, 30, 40, 13
    V = 3
    shapes = {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, W), "Wx": (W, H),
              "Wh": (H, H), "b": (H,), "W_vocab": (H, V), "b_vocab": (V,)}
    params = {k: np.linspace(-1.4, 1.3, num=int(np.prod(s))).reshape(s)
              for k, s in shapes.items()}
    features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    assert captioning_loss(features, captions, params)[0] == pytest.approx(9.83235591003,
                                                                          abs=1e-10)
