"""Gradient checks and shape rules of the CNN layers in rnnlib.conv."""

import numpy as np
import pytest

from rnnlib import conv


def numerical_gradient(f, x, df, h=1e-5):
    """Centred differences of sum(f(x) * df) with respect to x (x is changed and restored).

    The difference f(x+h) - f(x-h) is taken before the sum with df (as CS231n's
    eval_numerical_gradient_array does): summing first cancels large terms and loses the
    digits of small gradient entries.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        pos = f().copy()
        x[i] = old - h
        neg = f().copy()
        x[i] = old
        grad[i] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def naive_conv(x, w, b, stride, pad):
    """Direct four-loop convolution, the definition the im2col version must agree with."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    return out


CONV_SHAPES = [
    # N, C, H, W, F, HH, WW, stride, pad
    (2, 3, 7, 7, 4, 3, 3, 2, 1),
    (1, 2, 5, 6, 3, 3, 3, 1, 1),
    (3, 1, 4, 4, 2, 2, 2, 2, 0),
    (2, 2, 6, 5, 3, 3, 2, 1, 0),
    (2, 2, 6, 6, 3, 3, 3, 2, 1),  # 6 + 2 - 3 = 5 is odd: the last row and column are dropped
]


@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_conv_forward_matches_naive(shape):
    N, C, H, W, F, HH, WW, stride, pad = shape
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, HH, WW)), rng.normal(size=F)
    out, _ = conv.conv_forward(x, w, b, {"stride": stride, "pad": pad})
    assert rel_error(out, naive_conv(x, w, b, stride, pad)) < 1e-10


def test_conv_forward_cs231n_vector():
    # The published check of CS231n assignment 2 (ConvolutionalNetworks.ipynb).
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv.conv_forward(x, w, b, {"stride": 2, "pad": 1})
    correct = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert rel_error(out, correct) < 1e-7


@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_conv_backward_numerical(shape):
    N, C, H, W, F, HH, WW, stride, pad = shape
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, HH, WW)), rng.normal(size=F)
    param = {"stride": stride, "pad": pad}
    out, cache = conv.conv_forward(x, w, b, param)
    dout = rng.normal(size=out.shape)
    dx, dw, db = conv.conv_backward(dout, cache)
    f = lambda: conv.conv_forward(x, w, b, param)[0]
    assert rel_error(dx, numerical_gradient(f, x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(f, w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient(f, b, dout)) < 1e-7


def test_conv1x1_is_a_1x1_convolution_and_gradients():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(6, 3)), rng.normal(size=6)
    out, cache = conv.conv1x1_forward(x, w, b)
    ref, _ = conv.conv_forward(x, w[:, :, None, None], b, {"stride": 1, "pad": 0})
    assert out.shape == (2, 6, 4, 5)
    assert rel_error(out, ref) < 1e-10
    dout = rng.normal(size=out.shape)
    dx, dw, db = conv.conv1x1_backward(dout, cache)
    f = lambda: conv.conv1x1_forward(x, w, b)[0]
    assert rel_error(dx, numerical_gradient(f, x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(f, w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient(f, b, dout)) < 1e-7


def test_relu_and_pool_gradients():
    rng = np.random.default_rng(3)
    # Keep inputs away from the kink at 0, where the numerical derivative is undefined.
    x = rng.normal(size=(2, 3, 4, 4))
    x[np.abs(x) < 1e-3] = 0.5
    out, cache = conv.relu_forward(x)
    assert np.all(out >= 0) and np.array_equal(out[x > 0], x[x > 0])
    dout = rng.normal(size=x.shape)
    dx = conv.relu_backward(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda: conv.relu_forward(x)[0], x, dout)) < 1e-7
    pooled, pcache = conv.global_avg_pool_forward(x)
    assert np.allclose(pooled, x.mean(axis=(2, 3)))
    dp = rng.normal(size=pooled.shape)
    dx = conv.global_avg_pool_backward(dp, pcache)
    f = lambda: conv.global_avg_pool_forward(x)[0]
    assert rel_error(dx, numerical_gradient(f, x, dp)) < 1e-7


@pytest.mark.parametrize("N, C, H", [(2, 3, 5), (1, 2, 4)])
def test_residual_block_gradients(N, C, H):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(N, C, H, H))
    w1, w2 = rng.normal(size=(C, C, 3, 3)) * 0.5, rng.normal(size=(C, C, 3, 3)) * 0.5
    b1, b2 = rng.normal(size=C), rng.normal(size=C)
    out, cache = conv.residual_block_forward(x, w1, b1, w2, b2)
    assert out.shape == x.shape
    # The identity path: with zero filters and biases the block is relu(x).
    z = np.zeros_like(w1)
    zero_out, _ = conv.residual_block_forward(x, z, np.zeros(C), z, np.zeros(C))
    assert np.array_equal(zero_out, np.maximum(x, 0))
    dout = rng.normal(size=out.shape)
    grads = conv.residual_block_backward(dout, cache)
    f = lambda: conv.residual_block_forward(x, w1, b1, w2, b2)[0]
    for g, p in zip(grads, (x, w1, b1, w2, b2), strict=True):
        assert rel_error(g, numerical_gradient(f, p, dout)) < 1e-7


def test_float32_is_kept():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    out, cache = conv.conv_forward(x, w, b, {"stride": 2, "pad": 1})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv.conv_backward(np.ones_like(out), cache))
    out, cache = conv.conv1x1_forward(x, w[:, :, 0, 0], b)
    assert out.dtype == np.float32


def test_bad_inputs_raise_value_error():
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match="w must have shape"):
        conv.conv_forward(x, np.zeros((4, 2, 3, 3)), np.zeros(4), {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="b must have shape"):
        conv.conv_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(3), {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="larger than"):
        conv.conv_forward(x, np.zeros((4, 3, 7, 7)), np.zeros(4), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="dtype"):
        conv.conv_forward(x.astype(np.float32), np.zeros((4, 3, 3, 3)), np.zeros(4), {})
    with pytest.raises(ValueError, match="x must have shape"):
        conv.conv1x1_forward(np.zeros((3, 5, 5)), np.zeros((4, 3)), np.zeros(4))
