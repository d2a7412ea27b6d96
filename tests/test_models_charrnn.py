"""rnnlib.models.CharRNN: gradients, truncated BPTT against full BPTT, dropout, sampling,
the state format, a short training run through the Solver, bad input."""

import math

import numpy as np
import pytest

from rnnlib.data import BPTTBatcher, CharVocab
from rnnlib.gradcheck import eval_numerical_gradient
from rnnlib.models import CharRNN
from rnnlib.solver import Solver

CELLS = ["rnn", "lstm", "peephole", "gru"]
V, H, E = 5, 3, 3


def assert_gradient_close(analytic, numeric, name):
    """Relative error 1e-7 per entry above the central difference's noise floor (see
    test_models_captioning.assert_gradient_close: rounding gives ~1e-10 absolute, h=1e-5)."""
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9, err_msg=name)


def make_model(cell, layers=1, dropout=0.0, seed=0):
    model = CharRNN(V, H, cell_type=cell, num_layers=layers, dropout=dropout,
                    dtype=np.float64, seed=seed, wordvec_dim=E)
    rng = np.random.default_rng(seed + 10)
    for k, v in model.params.items():
        model.params[k] = 0.5 * rng.standard_normal(v.shape)
    return model


def random_state(model, N, seed=1):
    rng = np.random.default_rng(seed)
    state = model.init_state(N)
    return {k: 0.5 * rng.standard_normal(v.shape) for k, v in state.items()}


def ids(shape, seed=2):
    return np.random.default_rng(seed).integers(0, V, size=shape)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_with_carried_state(cell, layers):
    model = make_model(cell, layers)
    x, y = ids((2, 4), seed=3), ids((2, 4), seed=4)
    h0 = random_state(model, 2)
    loss, grads, state = model.loss(x, y, h0=h0)
    assert set(grads) == set(model.params)
    for name in sorted(model.params):
        f = lambda _: model.eval_loss(x, y, h0=h0)[0]  # forward only: same loss, faster
        num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        assert_gradient_close(grads[name], num, name)


def test_parameter_names_and_shapes():
    m = CharRNN(V, H, cell_type="peephole", num_layers=2, wordvec_dim=E)
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes == {
        "W_embed": (V, E),
        "Wx1": (E, 4 * H), "Wh1": (H, 4 * H), "b1": (4 * H,), "Wp1": (3, H),
        "Wx2": (H, 4 * H), "Wh2": (H, 4 * H), "b2": (4 * H,), "Wp2": (3, H),
        "W_vocab": (H, V), "b_vocab": (V,),
    }
    assert CharRNN(V, H, cell_type="gru").params["W_embed"].shape == (V, V)  # default E = V
    assert CharRNN(V, H, cell_type="gru").params["Wx1"].shape == (V, 3 * H)


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_with_dropout_fixed_masks(cell):
    # The masks come from model.rng; restarting it before every call fixes them.
    model = make_model(cell, layers=2, dropout=0.4)
    x, y = ids((3, 3), seed=5), ids((3, 3), seed=6)

    def train_loss(_=None):
        model.rng = np.random.default_rng(42)
        return per_position_loss(model.forward(x, mode="train")[0], y).mean()

    model.rng = np.random.default_rng(42)
    loss, grads, _ = model.loss(x, y)
    assert loss == pytest.approx(train_loss(), abs=1e-12)
    loss_test, _, _ = model.loss(x, y, mode="test")
    assert loss != pytest.approx(loss_test)  # dropout is active in training mode
    for name in sorted(model.params):
        num = eval_numerical_gradient(train_loss, model.params[name], verbose=False, h=1e-5)
        assert_gradient_close(grads[name], num, name)


def per_position_loss(scores, y):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_matches_full_bptt_on_first_chunk(cell, layers):
    model = make_model(cell, layers)
    T = 3
    x, y = ids((2, 2 * T), seed=7), ids((2, 2 * T), seed=8)

    # Chunk 1 alone versus the first T positions of a full pass over both chunks.
    loss1, grads1, state1 = model.loss(x[:, :T], y[:, :T])
    scores_full, state_full = model.forward(x)
    full_nll = per_position_loss(scores_full, y)
    assert loss1 == pytest.approx(full_nll[:, :T].mean(), abs=1e-12)

    # The state after chunk 1 is the full pass's state at step T (h and, for LSTMs, c):
    # a forward pass over x[:, :T] then x[:, T:] with the state carried gives the full
    # pass's scores for the second chunk, and ends in the full pass's final state.
    scores_prefix, state_prefix = model.forward(x[:, :T])
    for k in state1:
        np.testing.assert_allclose(state1[k], state_prefix[k], rtol=0, atol=1e-14)
    scores2, state2 = model.forward(x[:, T:], h0=state1)
    np.testing.assert_allclose(scores2, scores_full[:, T:], rtol=1e-12, atol=1e-12)
    for k in state_full:
        np.testing.assert_allclose(state2[k], state_full[k], rtol=1e-12, atol=1e-12)
    # and its h is the full pass's hidden state at step T, in every layer
    _, _, hidden = model.forward(x, return_hidden=True)
    assert len(hidden) == layers and hidden[0].shape == (2, 2 * T, H)
    for layer in range(layers):
        np.testing.assert_allclose(state1["h"][layer], hidden[layer][:, T - 1], atol=1e-14)
    if "c" in state1:  # the c part is checked through the second chunk's scores above
        assert not np.allclose(state1["c"], 0)

    # The chunk-1 gradients are the gradients of the first-chunk part of the full pass.
    def first_chunk_part(_):
        return per_position_loss(model.forward(x)[0], y)[:, :T].mean()

    for name in sorted(model.params):
        num = eval_numerical_gradient(first_chunk_part, model.params[name], verbose=False,
                                      h=1e-5)
        assert_gradient_close(grads1[name], num, name)


def test_second_chunk_loss_with_carried_state():
    # Mean over both chunks with the state carried = mean over the full pass.
    model = make_model("lstm", layers=2)
    x, y = ids((3, 8), seed=9), ids((3, 8), seed=10)
    full, _ = model.eval_loss(x, y)
    l1, _, s1 = model.loss(x[:, :4], y[:, :4], mode="test")
    l2, _, _ = model.loss(x[:, 4:], y[:, 4:], h0=s1, mode="test")
    assert (l1 + l2) / 2 == pytest.approx(full, abs=1e-12)
    l2_reset, _, _ = model.loss(x[:, 4:], y[:, 4:], mode="test")
    assert l2_reset != pytest.approx(l2, abs=1e-6)  # the state matters


@pytest.mark.parametrize("cell", CELLS)
def test_state_format(cell):
    model = CharRNN(V, H, cell_type=cell, num_layers=2, seed=0)
    _, grads, state = model.loss(ids((3, 4)), ids((3, 4), seed=5))
    keys = {"h", "c"} if cell in ("lstm", "peephole") else {"h"}
    assert set(state) == keys
    for v in state.values():
        assert v.shape == (2, 3, H) and v.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model.unflatten_state(model.flatten_state(state)).keys() == state.keys()


def test_loss_is_mean_nats_per_character():
    # Uniform scores give exactly log(V) per character, whatever N and T are.
    model = CharRNN(V, H, cell_type="gru", dtype=np.float64)
    model.params["W_vocab"][:] = 0
    for shape in [(1, 1), (3, 7)]:
        loss, grads, _ = model.loss(ids(shape), ids(shape, seed=3))
        assert loss == pytest.approx(math.log(V), abs=1e-12)
        # the gradient of a mean does not grow with the chunk
        np.testing.assert_allclose(grads["b_vocab"].sum(), 0, atol=1e-12)


def test_dropout_off_in_test_mode_and_random_in_training():
    model = make_model("lstm", layers=2, dropout=0.5)
    x, y = ids((2, 5)), ids((2, 5), seed=3)
    a = model.loss(x, y, mode="test")[0]
    b = model.loss(x, y, mode="test")[0]
    c = model.loss(x, y)[0]
    d = model.loss(x, y)[0]
    assert a == b and c != d
    no_dropout = make_model("lstm", layers=2, dropout=0.0)
    assert no_dropout.loss(x, y)[0] == pytest.approx(a)


def test_sampling_is_deterministic_with_a_seed():
    model = make_model("lstm", layers=2)
    a = model.sample(3, 50, rng=123)
    b = model.sample(3, 50, rng=np.random.default_rng(123))
    c = model.sample(3, 50, rng=124)
    assert a.shape == (50,) and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() < V


@pytest.mark.parametrize("cell", CELLS)
def test_temperature_zero_is_greedy(cell):
    model = make_model(cell, layers=2)
    prime = [1, 4, 2]
    out = model.sample(prime, 8, temperature=0)
    # greedy by hand: rerun the whole prefix and take the argmax of the last scores
    seq = list(prime)
    for _ in range(8):
        scores, _ = model.forward(np.array([seq]))
        seq.append(int(np.argmax(scores[0, -1])))
    np.testing.assert_array_equal(out, seq[3:])
    # and a tiny temperature samples the same characters whatever the seed
    for seed in range(3):
        np.testing.assert_array_equal(model.sample(prime, 8, temperature=1e-4, rng=seed), out)


def test_sample_continues_from_returned_state():
    model = make_model("peephole", layers=2)
    whole = model.sample([2, 3], 10, temperature=0)
    first, state = model.sample([2, 3], 4, temperature=0, return_state=True)
    rest = model.sample(first[-1], 6, temperature=0, state=state)
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


def test_high_temperature_flattens():
    model = make_model("rnn")
    cold = model.sample(0, 400, temperature=0.3, rng=0)
    hot = model.sample(0, 400, temperature=5.0, rng=0)
    assert len(set(hot.tolist())) >= len(set(cold.tolist()))
    assert len(set(hot.tolist())) == V


def test_learns_a_repetitive_text_with_the_solver():
    text = "hello world. " * 60
    vocab = CharVocab(text)
    data = vocab.encode(text)
    batcher = BPTTBatcher(data, batch_size=4, seq_len=13)
    model = CharRNN(vocab.size, 32, cell_type="lstm", num_layers=1, seed=0)
    solver = Solver(model, sample_batch=batcher.sample_batch, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, num_iterations=150, clip_norm=5.0,
                    verbose=False, seed=0)
    solver.train()
    assert solver.loss_history[0] == pytest.approx(math.log(vocab.size), abs=0.2)
    assert np.mean(solver.loss_history[-10:]) < 0.1
    assert model.evaluate(data, batch_size=2, seq_len=13) < 0.1
    sample = vocab.decode(model.sample(vocab.encode("hello"), 14, temperature=0))
    assert sample == " world. hello "


def test_bad_input():
    model = CharRNN(V, H, cell_type="lstm", num_layers=2)
    x = ids((2, 3))
    with pytest.raises(ValueError, match="x"):
        model.loss(x[0], x[0])
    with pytest.raises(ValueError, match="y"):
        model.loss(x, x[:, :2])
    with pytest.raises(ValueError, match="x"):
        model.loss(x + V, x)
    with pytest.raises(ValueError, match="h0"):
        model.loss(x, x, h0={"h": np.zeros((2, 2, H))})
    with pytest.raises(ValueError, match="h0"):
        model.loss(x, x, h0={"h": np.zeros((1, 2, H)), "c": np.zeros((1, 2, H))})
    with pytest.raises(ValueError, match="mode"):
        model.loss(x, x, mode="eval")
    with pytest.raises(ValueError, match="temperature"):
        model.sample(0, 3, temperature=-1)
    with pytest.raises(ValueError, match="start"):
        model.sample(V, 3)
    with pytest.raises(ValueError, match="cell_type"):
        CharRNN(V, H, cell_type="attention")
    with pytest.raises(ValueError, match="dropout"):
        CharRNN(V, H, dropout=1.0)
    with pytest.raises(ValueError, match="num_layers"):
        CharRNN(V, H, num_layers=0)


def test_solver_resume_with_carried_state_and_dropout(tmp_path):
    # Interrupted mid-epoch and resumed, a dropout CharRNN run equals the uninterrupted run:
    # the checkpoint holds the carried state, the batcher's position and the dropout rng.
    text = "the quick brown fox jumps over the lazy dog. " * 8
    vocab = CharVocab(text)
    data = vocab.encode(text)

    def run(num_iterations, ckpt=None, resume=False):
        batcher = BPTTBatcher(data, batch_size=3, seq_len=10)  # 11 chunks per epoch
        model = CharRNN(vocab.size, 8, cell_type="lstm", num_layers=2, dropout=0.2,
                        seed=0 if not resume else 5)
        solver = Solver(model, sample_batch=batcher.sample_batch, update_rule="adam",
                        optim_config={"learning_rate": 5e-3}, num_iterations=num_iterations,
                        clip_norm=1.0, checkpoint_path=ckpt, verbose=False, seed=0,
                        val_fn=lambda m: m.evaluate(data, batch_size=2, seq_len=20))
        if resume:
            solver.resume(ckpt)
        return solver.train()

    full = run(16)
    run(7, ckpt=tmp_path / "ck")
    resumed = run(16, ckpt=tmp_path / "ck", resume=True)
    assert resumed.loss_history == full.loss_history
    for k in full.model.params:
        np.testing.assert_array_equal(resumed.model.params[k], full.model.params[k])
