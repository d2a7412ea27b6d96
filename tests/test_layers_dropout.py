"""Inverted dropout: p is the keep probability (CS231n assignment 2)."""

import numpy as np
import pytest

from rnnlib.layers import dropout_backward, dropout_forward
from rnntools.gradcheck import eval_numerical_gradient_array, rel_error


@pytest.mark.parametrize("p", [0.25, 0.5, 0.9])
def test_train_mode_keeps_the_mean_and_drops_a_fraction_1_minus_p(p):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 500)) + 10
    out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 123})
    # 250,000 units: the kept fraction and the mean are within a few standard errors of p and 10.
    assert abs((out != 0).mean() - p) < 0.005
    assert abs(out.mean() - x.mean()) < 0.05
    # Kept units are scaled by exactly 1 / p.
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-12)


def test_test_mode_is_the_identity():
    x = np.random.default_rng(1).standard_normal((4, 3, 5))
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    dout = np.ones_like(x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_seed_makes_the_mask_repeatable():
    x = np.ones((20, 30))
    param = {"p": 0.5, "mode": "train", "seed": 7}
    a, _ = dropout_forward(x, param)
    b, _ = dropout_forward(x, param)
    c, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 8})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_p_equal_to_one_keeps_everything():
    x = np.random.default_rng(2).standard_normal((3, 4))
    out, _ = dropout_forward(x, {"p": 1.0, "mode": "train"})
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5)])
def test_gradient(shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) + 10
    param = {"p": 0.6, "mode": "train", "seed": 42}
    out, cache = dropout_forward(x, param)
    dout = rng.standard_normal(out.shape)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: dropout_forward(x, param)[0], x, dout)
    assert rel_error(dx_num, dx) < 1e-7
    assert np.all(dx[out == 0] == 0)
