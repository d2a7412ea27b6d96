"""Convolutional layers in the CS231n layer style, for the image encoder of the captioning model.

Images are (N, C, H, W) arrays (channels first, as in CS231n). Forward functions return
``(out, cache)``; backward functions take ``(dout, cache)``. Every function is vectorised over
the batch and keeps the input dtype.

The convolution uses im2col: the (C, HH, WW) patches under every output position are gathered
into one matrix so that the whole layer is a single matrix product. Gathering loops over the
HH*WW kernel offsets only (nine for a 3x3 kernel); each offset copies a strided slice of the
whole batch at once.
"""

import numpy as np


def _check_conv_args(x, w, b):
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.shape}")
    if w.ndim != 4 or w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have shape (F, {x.shape[1]}, HH, WW), got {w.shape}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")
    _check_dtypes(x=x, w=w, b=b)


def _check_dtypes(**arrays):
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        raise ValueError(f"arguments must share one float dtype, got {dtypes}")


def _output_size(size, kernel, stride, pad, name):
    span = size + 2 * pad - kernel
    if span < 0:
        raise ValueError(f"{name}: kernel {kernel} is larger than input {size} with pad {pad}")
    return span // stride + 1


def im2col(x, HH, WW, stride, pad):
    """Gather convolution patches.

    Inputs:
    - x: (N, C, H, W).
    - HH, WW: kernel height and width.
    - stride, pad: as in conv_forward.

    Returns:
    - cols: (N * H_out * W_out, C * HH * WW), rows ordered (n, i, j), columns (c, di, dj) so
      that cols @ w.reshape(F, -1).T is the convolution.
    """
    N, C, H, W = x.shape
    Ho = _output_size(H, HH, stride, pad, "height")
    Wo = _output_size(W, WW, stride, pad, "width")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = np.empty((N, Ho, Wo, C, HH, WW), dtype=x.dtype)
    for di in range(HH):
        for dj in range(WW):
            window = xp[:, :, di:di + stride * Ho:stride, dj:dj + stride * Wo:stride]
            cols[:, :, :, :, di, dj] = window.transpose(0, 2, 3, 1)
    return cols.reshape(N * Ho * Wo, C * HH * WW)


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """The adjoint of im2col: scatter-add patch gradients back onto the image.

    Inputs:
    - dcols: (N * H_out * W_out, C * HH * WW), laid out as im2col's output.
    - x_shape: (N, C, H, W) of the original input.
    - HH, WW, stride, pad: as in im2col.

    Returns:
    - dx: (N, C, H, W).
    """
    N, C, H, W = x_shape
    Ho = _output_size(H, HH, stride, pad, "height")
    Wo = _output_size(W, WW, stride, pad, "width")
    d = dcols.reshape(N, Ho, Wo, C, HH, WW)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for di in range(HH):
        for dj in range(WW):
            # Patches overlap when stride < kernel, so accumulate offset by offset.
            dxp[:, :, di:di + stride * Ho:stride, dj:dj + stride * Wo:stride] += (
                d[:, :, :, :, di, dj].transpose(0, 3, 1, 2))
    return dxp[:, :, pad:pad + H, pad:pad + W]


def conv_forward(x, w, b, conv_param):
    """Convolution with stride and zero padding (cross-correlation, as in CS231n).

    Inputs:
    - x: input images, shape (N, C, H, W).
    - w: filters, shape (F, C, HH, WW).
    - b: biases, shape (F,).
    - conv_param: dict with 'stride' (int, default 1) and 'pad' (int, default 0), the number
      of zero pixels added on every side.

    Returns a tuple of:
    - out: (N, F, H_out, W_out) with H_out = floor((H + 2*pad - HH) / stride) + 1 (likewise
      W_out). When the stride does not tile the padded input exactly, the last rows/columns
      are not covered (the PyTorch convention; CS231n asserts exact tiling instead).
    - cache: values for conv_backward.
    """
    _check_conv_args(x, w, b)
    stride, pad = int(conv_param.get("stride", 1)), int(conv_param.get("pad", 0))
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = _output_size(H, HH, stride, pad, "height")
    Wo = _output_size(W, WW, stride, pad, "width")
    cols = im2col(x, HH, WW, stride, pad)
    out = cols @ w.reshape(F, -1).T + b
    out = out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    cache = (x.shape, cols, w, stride, pad)
    return np.ascontiguousarray(out, dtype=x.dtype), cache


def conv_backward(dout, cache):
    """Backward pass of conv_forward.

    Inputs:
    - dout: upstream gradient, shape (N, F, H_out, W_out).
    - cache: from conv_forward.

    Returns a tuple of:
    - dx: (N, C, H, W).
    - dw: (F, C, HH, WW).
    - db: (F,).
    """
    x_shape, cols, w, stride, pad = cache
    F, _, HH, WW = w.shape
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = (d2.T @ cols).reshape(w.shape)
    db = d2.sum(axis=0)
    dx = col2im(d2 @ w.reshape(F, -1), x_shape, HH, WW, stride, pad)
    return dx, dw, db


def conv1x1_forward(x, w, b):
    """1x1 convolution: the same affine map applied to the channel vector at every pixel.

    It is conv_forward with HH = WW = 1, stride 1 and no padding, written directly because it
    needs no patch gathering (it is how the captioning model projects a feature grid).

    Inputs:
    - x: (N, C, H, W).
    - w: (F, C).
    - b: (F,).

    Returns a tuple of:
    - out: (N, F, H, W).
    - cache: values for conv1x1_backward.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.shape}")
    if w.ndim != 2 or w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have shape (F, {x.shape[1]}), got {w.shape}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")
    _check_dtypes(x=x, w=w, b=b)
    out = np.einsum("nchw,fc->nfhw", x, w, optimize=True) + b[:, None, None]
    return out, (x, w)


def conv1x1_backward(dout, cache):
    """Backward pass of conv1x1_forward.

    Inputs:
    - dout: (N, F, H, W).
    - cache: from conv1x1_forward.

    Returns a tuple of:
    - dx: (N, C, H, W).
    - dw: (F, C).
    - db: (F,).
    """
    x, w = cache
    dx = np.einsum("nfhw,fc->nchw", dout, w, optimize=True)
    dw = np.einsum("nfhw,nchw->fc", dout, x, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit, max(0, x) elementwise.

    Inputs:
    - x: array of any shape.

    Returns a tuple of:
    - out: same shape as x.
    - cache: x.
    """
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of relu_forward.

    Inputs:
    - dout: upstream gradient, same shape as x.
    - cache: x from relu_forward.

    Returns:
    - dx: same shape as x (the gradient is taken as 0 at x = 0).
    """
    return dout * (cache > 0)


def residual_block_forward(x, w1, b1, w2, b2):
    """A basic residual block (He et al. 2016): out = relu(x + conv2(relu(conv1(x)))).

    Both convolutions are 3x3 with stride 1 and padding 1, so the block keeps the shape of its
    input and the identity shortcut needs no projection.

    Inputs:
    - x: (N, C, H, W).
    - w1, w2: filters, shape (C, C, 3, 3).
    - b1, b2: biases, shape (C,).

    Returns a tuple of:
    - out: (N, C, H, W).
    - cache: values for residual_block_backward.
    """
    C = x.shape[1] if x.ndim == 4 else None
    for name, w in (("w1", w1), ("w2", w2)):
        if w.shape != (C, C, 3, 3):
            raise ValueError(f"{name} must have shape ({C}, {C}, 3, 3), got {w.shape}")
    param = {"stride": 1, "pad": 1}
    a1, c1 = conv_forward(x, w1, b1, param)
    h1, r1 = relu_forward(a1)
    a2, c2 = conv_forward(h1, w2, b2, param)
    out, r2 = relu_forward(x + a2)
    return out, (c1, r1, c2, r2)


def residual_block_backward(dout, cache):
    """Backward pass of residual_block_forward.

    Inputs:
    - dout: (N, C, H, W).
    - cache: from residual_block_forward.

    Returns a tuple of:
    - dx: (N, C, H, W), the sum of the shortcut and the convolution paths.
    - dw1, db1, dw2, db2: gradients of the block's parameters, shaped like them.
    """
    c1, r1, c2, r2 = cache
    ds = relu_backward(dout, r2)
    dh1, dw2, db2 = conv_backward(ds, c2)
    dx, dw1, db1 = conv_backward(relu_backward(dh1, r1), c1)
    return dx + ds, dw1, db1, dw2, db2


def global_avg_pool_forward(x):
    """Average over the spatial axes.

    Inputs:
    - x: (N, C, H, W).

    Returns a tuple of:
    - out: (N, C).
    - cache: the input shape.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.shape}")
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool_backward(dout, cache):
    """Backward pass of global_avg_pool_forward.

    Inputs:
    - dout: (N, C).
    - cache: the input shape (N, C, H, W).

    Returns:
    - dx: (N, C, H, W), dout spread evenly over the H * W positions.
    """
    N, C, H, W = cache
    return np.broadcast_to((dout / (H * W))[:, :, None, None], cache).copy()
