"""rnnlib.optim against the values published in CS231n's FullyConnectedNets notebook."""

import numpy as np
import pytest

from rnnlib.optim import UPDATE_RULES, adam, get_update_rule, rmsprop, sgd, sgd_momentum

N, D = 4, 5


def assert_published(actual, expected):
    # The published arrays are rounded to 8 decimals, so the honest check is an absolute
    # error of half a unit in the last place (relative error would blow up near zero: the
    # published Adam next_w has rel_error 1.14e-7 for a correct implementation).
    np.testing.assert_allclose(actual, expected, rtol=0, atol=0.5e-8 + 1e-15)


def lin(lo, hi):
    return np.linspace(lo, hi, num=N * D).reshape(N, D)


def test_sgd_hand_computed():
    w, dw = lin(-0.4, 0.6), lin(-0.6, 0.4)
    w_before = w.copy()
    next_w, config = sgd(w, dw, {"learning_rate": 0.5})
    np.testing.assert_allclose(next_w, w_before - 0.5 * dw, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(w, w_before)  # the input is not modified
    _, config = sgd(w, dw)
    assert config["learning_rate"] == 1e-2


def test_sgd_momentum_published():
    w, dw, v = lin(-0.4, 0.6), lin(-0.6, 0.4), lin(0.6, 0.9)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, config = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert_published(next_w, expected_next_w)
    assert_published(config["velocity"], expected_velocity)
    assert config["momentum"] == 0.9


def test_rmsprop_published():
    w, dw, cache = lin(-0.4, 0.6), lin(-0.6, 0.4), lin(0.6, 0.9)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, config = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert_published(next_w, expected_next_w)
    assert_published(config["cache"], expected_cache)


def test_adam_published():
    w, dw, m, v = lin(-0.4, 0.6), lin(-0.6, 0.4), lin(0.6, 0.9), lin(0.7, 0.5)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, config = adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert_published(next_w, expected_next_w)
    assert_published(config["v"], expected_v)
    assert_published(config["m"], expected_m)
    assert config["t"] == 6


def test_adam_first_step_moves_every_weight_by_the_learning_rate():
    # With zero state, bias correction makes the first step exactly lr * sign(dw) (up to eps).
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4))
    dw = rng.standard_normal((3, 4))
    next_w, config = adam(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(w - next_w, 0.1 * np.sign(dw), rtol=1e-6)
    assert config["t"] == 1
    assert config["beta1"] == 0.9 and config["beta2"] == 0.999 and config["epsilon"] == 1e-8


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_float32_stays_float32_and_input_untouched(name):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    dw = rng.standard_normal((3, 2)).astype(np.float32)
    w_before = w.copy()
    update = UPDATE_RULES[name]
    config = None
    for _ in range(3):
        next_w, config = update(w, dw, config)
    assert next_w.dtype == np.float32
    for value in config.values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    np.testing.assert_array_equal(w, w_before)


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_minimises_a_quadratic(name):
    # Each rule, with a suitable step, drives f(w) = 0.5 |w - 3|^2 to its minimum.
    lr = {"sgd": 0.1, "sgd_momentum": 0.05, "rmsprop": 0.01, "adam": 0.05}[name]
    w = np.zeros(4)
    config = {"learning_rate": lr}
    for _ in range(2000):
        w, config = UPDATE_RULES[name](w, w - 3.0, config)
    np.testing.assert_allclose(w, 3.0, atol=1e-2)


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_shape_mismatch_raises(name):
    with pytest.raises(ValueError, match="dw"):
        UPDATE_RULES[name](np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_dtype_mismatch_raises(name):
    with pytest.raises(ValueError, match="dtype"):
        UPDATE_RULES[name](np.zeros(3, dtype=np.float32), np.zeros(3))


def test_bad_state_shape_raises():
    with pytest.raises(ValueError, match="velocity"):
        sgd_momentum(np.zeros(3), np.zeros(3), {"velocity": np.zeros(4)})


def test_get_update_rule():
    assert get_update_rule("adam") is adam
    assert get_update_rule(sgd) is sgd
    with pytest.raises(ValueError, match="update_rule"):
        get_update_rule("adagrad")
