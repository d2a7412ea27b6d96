"""float32 stays float32 through every layer, and bad input fails early with a clear ValueError."""

import numpy as np
import pytest

from rnnlib import layers as L

N, T, D, H, V, P = 2, 3, 4, 5, 7, 2


def _inputs(rng):
    """Valid float64 inputs of every forward function: name -> (forward, backward, args, n_out)."""
    def n(*shape):
        return 0.5 * rng.standard_normal(shape)

    x_seq, h0, x, h, c = n(N, T, D), n(N, H), n(N, D), n(N, H), n(N, H)
    return {
        "affine": (L.affine_forward, L.affine_backward, [x, n(D, H), n(H)], 1),
        "temporal_affine": (L.temporal_affine_forward, L.temporal_affine_backward,
                            [x_seq, n(D, H), n(H)], 1),
        "rnn_step": (L.rnn_step_forward, L.rnn_step_backward,
                     [x, h, n(D, H), n(H, H), n(H)], 1),
        "rnn": (L.rnn_forward, L.rnn_backward, [x_seq, h0, n(D, H), n(H, H), n(H)], 1),
        "lstm_step": (L.lstm_step_forward, L.lstm_step_backward,
                      [x, h, c, n(D, 4 * H), n(H, 4 * H), n(4 * H)], 2),
        "lstm_step_attn": (L.lstm_step_forward, L.lstm_step_backward,
                           [x, h, c, n(D, 4 * H), n(H, 4 * H), n(4 * H), n(N, H),
                            n(H, 4 * H)], 2),
        "lstm": (L.lstm_forward, L.lstm_backward,
                 [x_seq, h0, n(D, 4 * H), n(H, 4 * H), n(4 * H)], 1),
        "peephole_lstm_step": (L.peephole_lstm_step_forward, L.peephole_lstm_step_backward,
                               [x, h, c, n(D, 4 * H), n(H, 4 * H), n(4 * H), n(3, H)], 2),
        "peephole_lstm": (L.peephole_lstm_forward, L.peephole_lstm_backward,
                          [x_seq, h0, n(D, 4 * H), n(H, 4 * H), n(4 * H), n(3, H)], 1),
        "gru_step": (L.gru_step_forward, L.gru_step_backward,
                     [x, h, n(D, 3 * H), n(H, 3 * H), n(3 * H)], 1),
        "gru": (L.gru_forward, L.gru_backward,
                [x_seq, h0, n(D, 3 * H), n(H, 3 * H), n(3 * H)], 1),
        "dot_product_attention": (L.dot_product_attention_forward,
                                  L.dot_product_attention_backward, [h, n(N, H, P, P)], 1),
        "attention_lstm": (L.attention_lstm_forward, L.attention_lstm_backward,
                           [x_seq, n(N, H, P, P), n(D, 4 * H), n(H, 4 * H), n(H, 4 * H),
                            n(4 * H)], 1),
    }


CASES = list(_inputs(np.random.default_rng(0)))
ARG_NAMES = {
    "affine": ["x", "w", "b"],
    "temporal_affine": ["x", "w", "b"],
    "rnn_step": ["x", "prev_h", "Wx", "Wh", "b"],
    "rnn": ["x", "h0", "Wx", "Wh", "b"],
    "lstm_step": ["x", "prev_h", "prev_c", "Wx", "Wh", "b"],
    "lstm_step_attn": ["x", "prev_h", "prev_c", "Wx", "Wh", "b", "attn", "Wattn"],
    "lstm": ["x", "h0", "Wx", "Wh", "b"],
    "peephole_lstm_step": ["x", "prev_h", "prev_c", "Wx", "Wh", "b", "Wp"],
    "peephole_lstm": ["x", "h0", "Wx", "Wh", "b", "Wp"],
    "gru_step": ["x", "prev_h", "Wx", "Wh", "b"],
    "gru": ["x", "h0", "Wx", "Wh", "b"],
    "dot_product_attention": ["prev_h", "A"],
    "attention_lstm": ["x", "A", "Wx", "Wh", "Wattn", "b"],
}


@pytest.mark.parametrize("name", CASES)
def test_float32_stays_float32(name):
    rng = np.random.default_rng(1)
    forward, backward, args, n_out = _inputs(rng)[name]
    args32 = [a.astype(np.float32) for a in args]
    outputs = forward(*args32)
    for out in outputs[:-1]:
        assert out.dtype == np.float32, name
    douts = [rng.standard_normal(o.shape).astype(np.float32) for o in outputs[:n_out]]
    grads = backward(*douts, outputs[-1])
    for a, g in zip(args32, grads, strict=True):
        assert g.dtype == np.float32 and g.shape == a.shape, name
    # float32 gives the float64 result to float32 precision.
    ref = forward(*args)
    for o32, o64 in zip(outputs[:-1], ref[:-1], strict=True):
        np.testing.assert_allclose(o32, o64, rtol=1e-4, atol=1e-5)


def test_float32_others():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((V, D)).astype(np.float32)
    idx = rng.integers(0, V, size=(N, T))
    out, cache = L.word_embedding_forward(idx, W)
    assert out.dtype == np.float32
    assert L.word_embedding_backward(np.ones_like(out), cache).dtype == np.float32
    scores = rng.standard_normal((N, T, V)).astype(np.float32)
    loss, dx = L.temporal_softmax_loss(scores, idx, np.ones((N, T), dtype=bool))
    assert isinstance(loss, float) and dx.dtype == np.float32
    xd = rng.standard_normal((N, D)).astype(np.float32)
    for mode in ("train", "test"):
        out, cache = L.dropout_forward(xd, {"p": 0.5, "mode": mode, "seed": 0})
        assert out.dtype == np.float32
        assert L.dropout_backward(np.ones_like(out), cache).dtype == np.float32


def _bad_shape(a):
    """The same array with its last axis one longer."""
    return np.concatenate([a, a[..., :1]], axis=-1)


# The arguments whose shape sets a size (N, D, H or M) that the others are checked against: a
# longer last axis there makes another argument the mismatch.
SETS_SIZES = {"x", "Wh", "w", "prev_h"}


@pytest.mark.parametrize("name", CASES)
def test_wrong_number_of_axes_names_the_argument(name):
    forward, _, args, _ = _inputs(np.random.default_rng(3))[name]
    for k, arg_name in enumerate(ARG_NAMES[name]):
        bad = list(args)
        # affine_forward takes any x with at least two axes, so its x loses one instead.
        bad[k] = args[k].ravel() if name == "affine" and k == 0 else args[k][None]
        with pytest.raises(ValueError, match=rf"^{arg_name} must "):
            forward(*bad)


@pytest.mark.parametrize("name", CASES)
def test_wrong_size_names_the_argument(name):
    forward, _, args, _ = _inputs(np.random.default_rng(3))[name]
    for k, arg_name in enumerate(ARG_NAMES[name]):
        bad = list(args)
        bad[k] = _bad_shape(args[k])
        pattern = r"must have shape" if arg_name in SETS_SIZES else rf"^{arg_name} must have shape"
        with pytest.raises(ValueError, match=pattern):
            forward(*bad)


@pytest.mark.parametrize("name", CASES)
def test_mixed_dtypes_name_the_argument(name):
    forward, _, args, _ = _inputs(np.random.default_rng(4))[name]
    for k, arg_name in enumerate(ARG_NAMES[name]):
        if k == 0:
            continue  # the first float argument sets the dtype the others must share
        bad = list(args)
        bad[k] = args[k].astype(np.float32)
        with pytest.raises(ValueError, match=rf"^{arg_name} must have dtype float64"):
            forward(*bad)


@pytest.mark.parametrize("name", CASES)
def test_wrong_upstream_gradient_shape(name):
    forward, backward, args, n_out = _inputs(np.random.default_rng(5))[name]
    outputs = forward(*args)
    douts = [np.ones_like(o) for o in outputs[:n_out]]
    douts[0] = _bad_shape(douts[0])
    with pytest.raises(ValueError, match=r"must have shape"):
        backward(*douts, outputs[-1])


def test_message_gives_symbolic_and_numeric_shapes():
    rng = np.random.default_rng(6)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = (rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 16)),
                 rng.standard_normal(4 * H))
    with pytest.raises(ValueError) as err:
        L.lstm_forward(x, h0, Wx, Wh, b)
    assert str(err.value) == "Wh must have shape (H, 4H) = (5, 20), got (5, 16)"


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: L.rnn_forward(np.zeros((N, D)), np.zeros((N, H)), np.zeros((D, H)),
                           np.zeros((H, H)), np.zeros(H)), r"^x must be a 3-D array"),
    (lambda: L.rnn_step_forward([[1.0]], np.zeros((1, H)), np.zeros((1, H)), np.zeros((H, H)),
                                np.zeros(H)), r"^x must be a NumPy array"),
    (lambda: L.rnn_step_forward(np.zeros((1, 1), dtype=int), np.zeros((1, H)),
                                np.zeros((1, H)), np.zeros((H, H)), np.zeros(H)),
     r"^x must have dtype float32 or float64"),
    (lambda: L.lstm_step_forward(np.zeros((N, D)), np.zeros((N, H)), np.zeros((N, H)),
                                 np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H),
                                 attn=np.zeros((N, H))), r"attn and Wattn"),
    (lambda: L.word_embedding_forward(np.array([[0, V]]), np.zeros((V, D))),
     r"^x must hold indices in \[0, 7\)"),
    (lambda: L.word_embedding_forward(np.zeros((1, 2)), np.zeros((V, D))),
     r"^x must be an integer array"),
    (lambda: L.temporal_softmax_loss(np.zeros((N, T, V)), np.zeros((N, T + 1), dtype=int),
                                     np.ones((N, T), dtype=bool)), r"^y must have shape"),
    (lambda: L.temporal_softmax_loss(np.zeros((N, T, V)), np.zeros((N, T), dtype=int),
                                     np.ones((N, 1), dtype=bool)), r"^mask must be"),
    (lambda: L.dropout_forward(np.zeros((N, D)), {"p": 0.0, "mode": "train"}),
     r"keep probability"),
    (lambda: L.dropout_forward(np.zeros((N, D)), {"p": 0.5, "mode": "eval"}), r"'mode'"),
])
def test_other_bad_inputs(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
