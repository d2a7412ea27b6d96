"""rnnlib.models.CaptioningRNN: CS231n's published losses, gradients of every parameter for
every cell, overfitting a few captions, greedy and beam decoding, bad input."""

import functools

import numpy as np
import pytest

from rnnlib.gradcheck import eval_numerical_gradient
from rnnlib.models import CaptioningRNN, decode_captions
from rnnlib.optim import adam

CELLS = ["rnn", "lstm", "peephole", "gru", "attention"]


def assert_gradient_close(analytic, numeric, name):
    """Relative error 1e-7 per entry, above the noise floor of the central difference.

    With h = 1e-5 the difference quotient of a loss of size ~10 carries a rounding error of
    about 1e-16 * 10 / 1e-5 = 1e-10 on every entry (measured: 2e-11 to 1e-10 here), so an
    entry of size 1e-4 cannot be checked to 1e-7 relative; the absolute floor 1e-9 covers that
    and nothing more. A wrong gradient term is off by far more than 1e-9.
    """
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    "cell, lo, hi, expected",
    [("rnn", -1.5, 0.3, 9.83235591003), ("lstm", -0.5, 1.7, 9.82445935443)],
)
def test_published_cs231n_losses(cell, lo, hi, expected):
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    T = 13
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell, dtype=np.float64)
    for k in sorted(model.params):
        v = model.params[k]
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(lo, hi, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    assert abs(loss - expected) < 1e-10  # published to 11 decimals
    assert set(grads) == set(model.params)


def small_problem(cell, seed=0, N=2, D=3, W=4, H=5, T=4, P=2):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4, "c": 5}
    V = len(word_to_idx)
    rng = np.random.default_rng(seed)
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell, dtype=np.float64, seed=seed)
    # Random, not-small parameters so that every term of every gradient matters.
    for k, v in model.params.items():
        model.params[k] = 0.5 * rng.standard_normal(v.shape)
    shape = (N, D, P, P) if cell == "attention" else (N, D)
    features = rng.standard_normal(shape)
    captions = rng.integers(0, V, size=(N, T))
    captions[:, 0] = 1
    captions[0, -1] = 0  # one <NULL> target, which must not count
    return model, features, captions


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_of_every_parameter(cell):
    model, features, captions = small_problem(cell)
    loss, grads = model.loss(features, captions)
    assert set(grads) == set(model.params)
    expected_extra = {"peephole": {"Wp"}, "attention": {"Wattn"}}.get(cell, set())
    base = {"W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"}
    assert set(model.params) == base | expected_extra
    for name in sorted(model.params):
        f = lambda _: model.loss(features, captions)[0]
        num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        assert grads[name].shape == model.params[name].shape
        assert_gradient_close(grads[name], num, name)


def test_null_targets_do_not_count_and_loss_is_divided_by_n():
    model, features, captions = small_problem("lstm")
    assert captions[0, -1] == 0 and (captions[1] != 0).all()
    loss, _ = model.loss(features, captions)
    # Row 0's last target is <NULL>: the row scores as if its caption were one word shorter.
    row0, _ = model.loss(features[:1], captions[:1, :-1])
    row1, _ = model.loss(features[1:], captions[1:])
    assert loss == pytest.approx((row0 + row1) / 2, abs=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell):
    model, features, captions = small_problem(cell)
    model32 = CaptioningRNN(model.word_to_idx, input_dim=3, wordvec_dim=4, hidden_dim=5,
                            cell_type=cell)
    assert all(v.dtype == np.float32 for v in model32.params.values())
    loss, grads = model32.loss(features.astype(np.float32), captions)
    assert np.isfinite(loss)
    assert all(g.dtype == np.float32 for g in grads.values())


def overfit(cell, steps=300):
    """Train on 4 images with one caption each until the loss is near zero."""
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "red": 3, "blue": 4,
                   "circle": 5, "square": 6, "big": 7}
    rng = np.random.default_rng(1)
    captions = np.array([
        [1, 3, 5, 2, 0, 0],
        [1, 4, 6, 2, 0, 0],
        [1, 7, 3, 6, 2, 0],
        [1, 7, 4, 5, 2, 0],
    ])
    shape = (4, 8, 2, 2) if cell == "attention" else (4, 8)
    features = rng.standard_normal(shape)
    model = CaptioningRNN(word_to_idx, input_dim=8, wordvec_dim=16, hidden_dim=32,
                          cell_type=cell, dtype=np.float64, seed=0)
    configs = {k: {"learning_rate": 2e-2} for k in model.params}
    losses = []
    for _ in range(steps):
        loss, grads = model.loss(features, captions)
        losses.append(loss)
        for k in model.params:
            model.params[k], configs[k] = adam(model.params[k], grads[k], configs[k])
    return model, features, captions, losses


@pytest.mark.parametrize("cell", ["lstm", "attention"])
def test_overfits_a_handful_of_captions_and_decodes_them(cell):
    model, features, captions, losses = overfit(cell)
    assert losses[0] > 5.0  # about 4 targets * log(8) per caption at the start
    assert losses[-1] < 0.02
    greedy = model.sample(features, max_length=6)
    if cell == "attention":
        greedy, attn = greedy
        assert attn.shape == (4, 6, 2, 2)
        np.testing.assert_allclose(attn.sum(axis=(2, 3)), 1.0, rtol=1e-12)
    beam = model.beam_search(features, beam_size=3, max_length=6)
    idx_to_word = model.idx_to_word
    want = decode_captions(captions, idx_to_word)
    assert want[2] == "big red square"
    assert decode_captions(greedy, idx_to_word) == want
    assert decode_captions(beam, idx_to_word) == want
    # beam output keeps <END> and pads with <NULL> after it
    np.testing.assert_array_equal(beam[2], [7, 3, 6, 2, 0, 0])


@pytest.mark.parametrize("length_norm", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_sample_shapes_and_beam_of_one_is_greedy(cell, length_norm):
    model, features, _ = small_problem(cell, N=3)
    # Make <NULL> and <START> unlikely, so that greedy decoding, which may pick any word,
    # picks what beam search (which never emits them) can pick.
    model.params["b_vocab"][:2] = -50.0
    out = model.sample(features, max_length=7)
    captions = out[0] if cell == "attention" else out
    assert captions.shape == (3, 7) and np.issubdtype(captions.dtype, np.integer)
    beam = model.beam_search(features, beam_size=1, max_length=7,
                              length_norm=length_norm)
    assert beam.shape == (3, 7)
    for g, b in zip(captions.tolist(), beam.tolist(), strict=True):
        if 2 in g:  # greedy goes on after <END>; beam search stops there and pads
            g = g[: g.index(2) + 1] + [0] * (6 - g.index(2))
        assert b == g


def caption_logp(model, feature, words):
    """Total log-probability of a caption (its words up to and including <END>)."""
    caps = np.array([[model._start] + list(words)])
    return -model.loss(feature[None], caps)[0]


@pytest.mark.parametrize("length_norm", [False, True])
def test_wide_beam_finds_the_exhaustive_best(length_norm):
    # 4 words can be produced (<END>, a, b, c); with max_length 3 there are few enough
    # captions to score them all, and a beam of 16 keeps every live one until the last step.
    model, features, _ = small_problem("lstm", N=3, seed=3)
    candidates = []
    for L in (1, 2, 3):
        for words in np.ndindex(*(4,) * L):
            words = [w + 2 for w in words]
            # a caption ends at its first <END>, or is cut at max_length
            if 2 not in words[:-1] and (words[-1] == 2 or L == 3):
                candidates.append(words)
    beam = model.beam_search(features, beam_size=16, max_length=3, length_norm=length_norm)
    for n in range(3):
        def score(words, n=n):
            lp = caption_logp(model, features[n], words)
            return lp / len(words) if length_norm else lp

        best = max(candidates, key=score)
        got = [w for w in beam[n].tolist() if w != 0]
        assert score(got) == pytest.approx(score(best), abs=1e-12)
        assert got == best


def test_bad_input():
    model, features, captions = small_problem("rnn")
    with pytest.raises(ValueError, match="features"):
        model.loss(features[:, :2], captions)
    with pytest.raises(ValueError, match="captions"):
        model.loss(features, captions[:1])
    with pytest.raises(ValueError, match="captions"):
        model.loss(features, captions + 10)
    with pytest.raises(ValueError, match="captions"):
        model.loss(features, captions.astype(np.float64))
    att, grid, _ = small_problem("attention")
    with pytest.raises(ValueError, match="features"):
        att.loss(grid[:, :, :, :1], captions)
    with pytest.raises(ValueError, match="cell_type"):
        CaptioningRNN({"<NULL>": 0}, cell_type="transformer")
    no_start = CaptioningRNN({"<NULL>": 0, "a": 1}, input_dim=3, wordvec_dim=4, hidden_dim=5)
    with pytest.raises(ValueError, match="<START>"):
        no_start.sample(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="beam_size"):
        model.beam_search(features, beam_size=0)


@functools.cache
def memorised(cell, seed):
    """A model trained to near-zero loss on 8 captions of 2 to 10 words, some of which begin
    with a whole shorter caption: the shape of the scene captions that exposed a beam search
    stopping once beam_size short captions had finished."""
    words = ["<NULL>", "<START>", "<END>", "red", "blue", "green", "circle", "square",
             "left", "of"]
    word_to_idx = {w: i for i, w in enumerate(words)}
    texts = ["red circle", "blue square", "green circle", "red square",
             "red circle left of blue square", "blue square left of green circle",
             "green circle left of red square left of blue square",
             "red square left of red circle"]
    captions = np.zeros((len(texts), 12), dtype=np.int64)
    for i, text in enumerate(texts):
        ids = [1] + [word_to_idx[w] for w in text.split()] + [2]
        captions[i, : len(ids)] = ids
    rng = np.random.default_rng(seed)
    shape = (len(texts), 8, 2, 2) if cell == "attention" else (len(texts), 8)
    features = rng.standard_normal(shape)
    model = CaptioningRNN(word_to_idx, input_dim=8, wordvec_dim=16, hidden_dim=32,
                          cell_type=cell, dtype=np.float64, seed=0)
    configs = {k: {"learning_rate": 2e-2} for k in model.params}
    for _ in range(400):
        loss, grads = model.loss(features, captions)
        for k in model.params:
            model.params[k], configs[k] = adam(model.params[k], grads[k], configs[k])
    assert loss < 0.01
    return model, features, captions


def cut_at_end(row, end=2, null=0):
    row = [w for w in row if w != null]
    return row[: row.index(end) + 1] if end in row else row


@pytest.mark.parametrize("length_norm", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cell", ["lstm", "attention"])
def test_beam_never_scores_below_greedy_on_a_memorised_model(cell, seed, length_norm):
    model, features, captions = memorised(cell, seed)
    out = model.sample(features, max_length=12)
    greedy = out[0] if cell == "attention" else out
    # Greedy decoding reproduces the memorised captions.
    assert decode_captions(greedy, model.idx_to_word) == decode_captions(
        captions, model.idx_to_word)

    def score(n, words):
        lp = caption_logp(model, features[n], words)
        return lp / len(words) if length_norm else lp

    for beam_size in (2, 3, 5):
        beam = model.beam_search(features, beam_size=beam_size, max_length=12,
                                 length_norm=length_norm)
        for n in range(len(features)):
            g, b = cut_at_end(greedy[n].tolist()), cut_at_end(beam[n].tolist())
            assert score(n, b) >= score(n, g) - 1e-12, (beam_size, n, g, b)


def test_attention_maps_of_sample_are_the_ones_that_produced_each_word():
    # The map sample() returns at step t must be the softmax of h_{t-1} . A (h_{-1} = h0), the
    # state that emits word t: recompute it by teacher-forcing the greedy caption.
    from rnnlib.cells import seq_forward
    from rnnlib.layers import dot_product_attention_forward

    model, features, _ = small_problem("attention", N=3, P=3)
    captions, maps = model.sample(features, max_length=5)
    h0, _, A, _ = model._project(model._features(features))
    words_in = np.concatenate([np.full((3, 1), model._start), captions[:, :-1]], axis=1)
    x = model.params["W_embed"][words_in]
    h, _, _ = seq_forward("attention", x, h0, model._cell_params(), A=A)
    prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    for t in range(5):
        want = dot_product_attention_forward(prev[:, t], A)[1]
        np.testing.assert_allclose(maps[:, t], want, rtol=1e-10, atol=1e-12)
        # the map of the next step differs: an off-by-one would not pass
        if t < 4:
            assert not np.allclose(maps[:, t + 1], want)


@pytest.mark.parametrize("ds_lambda", [0.0, 0.7])
def test_doubly_stochastic_penalty_loss_and_gradients(ds_lambda):
    # experiments.captioning's attention model with Xu et al.'s penalty: with lambda 0 it is
    # CaptioningRNN's loss exactly; otherwise every gradient matches the numerical one.
    from experiments.captioning import DoublyStochasticCaptioningRNN

    base, features, captions = small_problem("attention", seed=4, N=3, P=3, T=5)
    model = DoublyStochasticCaptioningRNN(base.word_to_idx, input_dim=3, wordvec_dim=4,
                                          hidden_dim=5, cell_type="attention",
                                          dtype=np.float64, ds_lambda=ds_lambda)
    model.params = {k: v.copy() for k, v in base.params.items()}
    loss, grads = model.loss(features, captions)
    base_loss, base_grads = base.loss(features, captions)
    assert model.last_caption_loss == pytest.approx(base_loss, rel=1e-12)
    if ds_lambda == 0.0:
        assert loss == pytest.approx(base_loss, rel=1e-12)
        for k in grads:
            np.testing.assert_allclose(grads[k], base_grads[k], rtol=1e-10, atol=1e-14)
        return
    assert loss > base_loss
    for k in model.params:
        numeric = eval_numerical_gradient(lambda _, k=k: model.loss(features, captions)[0],
                                          model.params[k], verbose=False)
        assert_gradient_close(grads[k], numeric, k)
