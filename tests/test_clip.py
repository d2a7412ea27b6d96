"""rnnlib.clip: clipping by value and by global norm."""

import math

import numpy as np
import pytest

from rnnlib.clip import clip_by_global_norm, clip_by_value, global_norm


def make_grads(dtype=np.float64):
    return {
        "W": np.array([[3.0, -4.0], [0.0, 0.0]], dtype=dtype),
        "b": np.array([12.0], dtype=dtype),
    }


def test_global_norm_hand_computed():
    assert global_norm(make_grads()) == pytest.approx(13.0)  # sqrt(9 + 16 + 144)
    assert global_norm({}) == 0.0


def test_global_norm_float32_does_not_overflow():
    big = {"W": np.full(4, 1e30, dtype=np.float32)}
    assert global_norm(big) == pytest.approx(2e30, rel=1e-6)


def test_clip_by_global_norm_scales_all_together():
    grads = make_grads()
    before = {k: v.copy() for k, v in grads.items()}
    clipped, norm = clip_by_global_norm(grads, 6.5)
    assert norm == pytest.approx(13.0)
    np.testing.assert_allclose(clipped["W"], before["W"] / 2)
    np.testing.assert_allclose(clipped["b"], before["b"] / 2)
    assert global_norm(clipped) == pytest.approx(6.5)
    for k in grads:  # pure: the input arrays are unchanged
        np.testing.assert_array_equal(grads[k], before[k])
        assert clipped[k] is not grads[k]


def test_clip_by_global_norm_below_threshold_is_identity():
    grads = make_grads()
    clipped, norm = clip_by_global_norm(grads, 100.0)
    assert norm == pytest.approx(13.0)
    for k in grads:
        np.testing.assert_array_equal(clipped[k], grads[k])
        assert clipped[k] is not grads[k]


def test_clip_by_global_norm_keeps_float32():
    clipped, _ = clip_by_global_norm(make_grads(np.float32), 1.0)
    assert all(v.dtype == np.float32 for v in clipped.values())
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-6)


def test_clip_by_global_norm_non_finite_returns_unchanged():
    grads = {"W": np.array([1.0, np.inf])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert not math.isfinite(norm)
    np.testing.assert_array_equal(clipped["W"], grads["W"])


def test_clip_by_value():
    grads = make_grads(np.float32)
    clipped = clip_by_value(grads, 3.5)
    np.testing.assert_array_equal(clipped["W"], [[3.0, -3.5], [0.0, 0.0]])
    np.testing.assert_array_equal(clipped["b"], [3.5])
    assert clipped["W"].dtype == np.float32
    assert grads["b"][0] == 12.0


@pytest.mark.parametrize("bad", [0, -1.0])
def test_bad_limits(bad):
    with pytest.raises(ValueError, match="limit"):
        clip_by_value(make_grads(), bad)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(make_grads(), bad)


def test_grads_must_be_a_dict():
    with pytest.raises(ValueError, match="grads"):
        clip_by_global_norm([np.zeros(2)], 1.0)
