"""rnnlib.deep_rnn: stacked and bidirectional layers, against numerical gradients and an
unrolled step-by-step definition.

Each layer function these compose is checked entry by entry in test_layers_gradients.py
(CS231n's elementwise relative error below 1e-7, on draws with no near-zero entry). Here the
object is the wiring (reversal in time, the two halves of the output, the sum of the two
directions' input gradients, the order of the layers), whose faults give errors of order 1,
on arrays of hundreds of entries where some entry is always near zero; so the bound is on
the relative error of each whole array, ||analytic - numeric|| / ||numeric|| < 1e-8.
"""

import numpy as np
import pytest

from rnnlib import deep_rnn
from rnnlib import layers as L
from rnntools.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array

TOL = 1e-8


def rel_norm_error(analytic, numeric):
    return float(np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric))
N, T, D, H = 2, 4, 3, 5


def _setup(cell, bidirectional, num_layers, seed=0):
    rng = np.random.default_rng(seed)
    width = 2 * H if bidirectional else H
    layers = [deep_rnn.init_layer(rng, cell, D if l == 0 else width, H, np.float64,
                                  bidirectional=bidirectional) for l in range(num_layers)]
    for layer in layers:                      # small non-zero biases: no symmetric draw
        for p in (layer.values() if bidirectional else [layer]):
            p["b"] += 0.1 * rng.standard_normal(p["b"].shape)
    shape = (num_layers, 2, N, H) if bidirectional else (num_layers, N, H)
    x = rng.standard_normal((N, T, D))
    h0 = 0.5 * rng.standard_normal(shape)
    dout = rng.standard_normal((N, T, width))
    return x, h0, layers, dout


def _param_arrays(layers):
    """(path, array) for every weight array of the layers."""
    for l, layer in enumerate(layers):
        if "fwd" in layer:
            for direction, p in layer.items():
                for k, v in p.items():
                    yield (l, direction, k), v
        else:
            for k, v in layer.items():
                yield (l, None, k), v


def _grad_at(grads, path):
    l, direction, k = path
    return grads[l][direction][k] if direction else grads[l][k]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_stacked_backward_matches_numerical_gradients(cell, bidirectional, num_layers):
    x, h0, layers, dout = _setup(cell, bidirectional, num_layers)
    out, cache = deep_rnn.stacked_forward(cell, x, h0, layers)
    dx, dh0, grads = deep_rnn.stacked_backward(cell, dout, cache)

    def f(_):
        return deep_rnn.stacked_forward(cell, x, h0, layers)[0]

    errors = {"x": rel_norm_error(dx, eval_numerical_gradient_array(f, x, dout)),
              "h0": rel_norm_error(dh0, eval_numerical_gradient_array(f, h0, dout))}
    for path, array in _param_arrays(layers):
        numeric = eval_numerical_gradient_array(f, array, dout)
        errors[path] = rel_norm_error(_grad_at(grads, path), numeric)
    assert max(errors.values()) < TOL, errors


def _unrolled_bidirectional(x, h0, p):
    """The definition, step by step: the backward RNN starts after step T and walks down."""
    fwd, bwd = np.zeros((N, T, H)), np.zeros((N, T, H))
    h = h0[0]
    for t in range(T):
        h, _ = L.rnn_step_forward(x[:, t], h, p["fwd"]["Wx"], p["fwd"]["Wh"], p["fwd"]["b"])
        fwd[:, t] = h
    h = h0[1]
    for t in reversed(range(T)):
        h, _ = L.rnn_step_forward(x[:, t], h, p["bwd"]["Wx"], p["bwd"]["Wh"], p["bwd"]["b"])
        bwd[:, t] = h
    return np.concatenate([fwd, bwd], axis=2)


def test_bidirectional_forward_is_the_step_by_step_definition():
    x, h0, layers, _ = _setup("rnn", True, 1)
    out, _ = deep_rnn.bidirectional_forward("rnn", x, h0[0], layers[0])
    np.testing.assert_allclose(out, _unrolled_bidirectional(x, h0[0], layers[0]), atol=1e-12)


def test_each_direction_sees_only_its_side_of_the_sequence():
    """Changing x at step 2 leaves the forward half before step 2 and the backward half after
    it as they were, and changes the rest."""
    x, h0, layers, _ = _setup("gru", True, 1)
    out, _ = deep_rnn.stacked_forward("gru", x, h0, layers)
    x2 = x.copy()
    x2[:, 2] += 1.0
    out2, _ = deep_rnn.stacked_forward("gru", x2, h0, layers)
    np.testing.assert_array_equal(out2[:, :2, :H], out[:, :2, :H])
    np.testing.assert_array_equal(out2[:, 3:, H:], out[:, 3:, H:])
    assert not np.allclose(out2[:, 2:, :H], out[:, 2:, :H])
    assert not np.allclose(out2[:, :3, H:], out[:, :3, H:])


def test_a_stack_feeds_each_layer_the_one_below():
    x, h0, layers, _ = _setup("lstm", False, 2)
    out, _ = deep_rnn.stacked_forward("lstm", x, h0, layers)
    p1, p2 = layers
    h1, _ = L.lstm_forward(x, h0[0], p1["Wx"], p1["Wh"], p1["b"])
    h2, _ = L.lstm_forward(h1, h0[1], p2["Wx"], p2["Wh"], p2["b"])
    np.testing.assert_allclose(out, h2, atol=1e-12)


def test_bad_arguments_are_named():
    x, h0, layers, _ = _setup("rnn", False, 2)
    with pytest.raises(ValueError, match="h0 has 1 layers"):
        deep_rnn.stacked_forward("rnn", x, h0[:1], layers)
    with pytest.raises(ValueError, match="cell_type must be one of"):
        deep_rnn.stacked_forward("attention", x, h0, layers)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_tagger_loss_matches_numerical_gradients(bidirectional):
    from rnnlib.models.tagger import SequenceTagger

    model = SequenceTagger(7, 3, 4, cell_type="gru", num_layers=2, wordvec_dim=3,
                           bidirectional=bidirectional, seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 7, (2, 5)), rng.integers(0, 3, (2, 5))
    mask = rng.random((2, 5)) < 0.8
    _, grads = model.loss(x, y, mask)
    assert set(grads) == set(model.params)
    for name, array in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(x, y, mask)[0], array,
                                          verbose=False)
        assert rel_norm_error(grads[name], numeric) < TOL, name


def test_sentence_ends_are_known_only_from_the_right():
    from rnnlib import tagging

    x, y, mask, dist = tagging.sentence_batch(np.random.default_rng(0), 64, 40, True)
    text = [tagging.decode(row) for row in x]
    for row, labels, m, d in zip(text, y, mask, dist, strict=True):
        for t in np.flatnonzero(m):
            assert row[t + d[t]] == tagging.MARKS[labels[t]]   # the mark d steps ahead
    assert mask.mean() > 0.6
    # The marks are drawn independently of the words: about a third each.
    counts = np.bincount(y[mask], minlength=3) / mask.sum()
    assert np.all(np.abs(counts - 1 / 3) < 0.08), counts
