"""rnnlib.caption_rnn.CaptioningRNN (assignment 8, CS231n's interface) gives exactly what the
course's model rnnlib.models.CaptioningRNN(cell_type='rnn') gives: the same loss, gradients and
greedy captions from the same parameters."""

import numpy as np
import pytest

from rnnlib.caption_rnn import CaptioningRNN as ExerciseCaptioner
from rnnlib.models import CaptioningRNN


def _vocabulary(V):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    word_to_idx.update({f"w{i}": i for i in range(3, V)})
    return word_to_idx


def _models(seed, D=6, W=5, H=7, V=9):
    model = CaptioningRNN(_vocabulary(V), input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type="rnn", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    for k, v in model.params.items():  # not the initial values: biases must matter too
        model.params[k] = rng.standard_normal(v.shape) * 0.5
    exercise = ExerciseCaptioner(_vocabulary(V), D, W, H, "rnn", np.float64)
    assert set(exercise.params) == set(model.params)
    for k, v in exercise.params.items():
        assert v.shape == model.params[k].shape and v.dtype == np.float64, k
    exercise.params.update(model.params)
    return model, exercise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_and_gradients_equal_the_model(seed):
    model, exercise = _models(seed)
    rng = np.random.default_rng(100 + seed)
    N, T = 4, 6
    features = rng.standard_normal((N, model.input_dim))
    captions = rng.integers(1, len(model.word_to_idx), size=(N, T))
    captions[1, 3:] = 0
    loss, grads = model.loss(features, captions)
    f_loss, f_grads = exercise.loss(features, captions)
    assert f_loss == pytest.approx(loss, rel=1e-13)
    assert set(f_grads) == set(grads)
    for k in grads:
        np.testing.assert_allclose(f_grads[k], grads[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_sample_equals_the_model(seed):
    model, exercise = _models(seed)
    features = np.random.default_rng(seed).standard_normal((5, model.input_dim))
    expected = model.sample(features, max_length=8)
    np.testing.assert_array_equal(exercise.sample(features, max_length=8), expected)


def test_published_cs231n_loss():
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    model = ExerciseCaptioner(word_to_idx, D, W, H, cell_type="rnn", dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    assert model.loss(features, captions)[0] == pytest.approx(9.83235591003, abs=1e-10)


def test_initial_parameters_take_the_dtype():
    model = ExerciseCaptioner(_vocabulary(5), 3, 4, 2)
    assert all(v.dtype == np.float32 for v in model.params.values())
    with pytest.raises(ValueError, match="cell_type"):
        ExerciseCaptioner(_vocabulary(5), 3, 4, 2, cell_type="lstm")
