"""rnnlib.seq2seq and rnnlib.numbers: attention and the encoder-decoder against numerical
gradients and step-by-step definitions; the number task's words, determinism and split.

As in test_deep_rnn.py, the bound is on the relative error of each whole array,
||analytic - numeric|| / ||numeric|| (float64): below 1e-8 for the attention functions. For
the whole model the bound is 1e-7: its loss runs through up to nine LSTM steps, and central
differences of it (h = 1e-4; smaller steps are swamped by rounding) are accurate only to
about 1e-8 of the small attention and encoder gradients (measured: at worst 1.5e-8, on Wq).
A wiring fault gives errors of order 1e-1 and more (test_a_dropped_gradient_path_is_caught).
"""

import numpy as np
import pytest

from rnnlib import numbers
from rnnlib import seq2seq as s2s
from rnntools.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array

TOL = 1e-8
MODEL_TOL = 1e-7
N, S, H, A = 3, 5, 4, 6


def rel_norm_error(analytic, numeric):
    return float(np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric))


def _attention_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, H)), rng.standard_normal((N, S, A)),
            rng.standard_normal((N, S, H)), rng.standard_normal((H, A)) / 2,
            rng.standard_normal(A), rng.standard_normal((N, H)))


def test_additive_attention_matches_its_definition_and_numerical_gradients():
    q, keys, values, Wq, v, dctx = _attention_inputs()
    ctx, weights, cache = s2s.additive_attention_forward(q, keys, values, Wq, v)
    for n in range(N):  # e_j = v . tanh(Wq^T q + k_j), one row at a time
        e = np.array([v @ np.tanh(q[n] @ Wq + keys[n, j]) for j in range(S)])
        w = np.exp(e) / np.exp(e).sum()
        assert np.allclose(weights[n], w) and np.allclose(ctx[n], w @ values[n])
    grads = s2s.additive_attention_backward(dctx, cache)
    inputs = [q, keys, values, Wq, v]
    for i, analytic in enumerate(grads):
        def f(x, i=i):
            args = list(inputs)
            args[i] = x
            return s2s.additive_attention_forward(*args)[0]
        numeric = eval_numerical_gradient_array(f, inputs[i].copy(), dctx)
        assert rel_norm_error(analytic, numeric) < TOL, i


def test_dot_attention_matches_its_definition_and_numerical_gradients():
    q, _, values, _, _, dctx = _attention_inputs(1)
    ctx, weights, cache = s2s.dot_attention_forward(q, values)
    e = np.einsum("nsh,nh->ns", values, q) / np.sqrt(H)
    w = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    assert np.allclose(weights, w) and np.allclose(ctx, np.einsum("ns,nsh->nh", w, values))
    dq, dvalues = s2s.dot_attention_backward(dctx, cache)
    num_q = eval_numerical_gradient_array(lambda x: s2s.dot_attention_forward(x, values)[0],
                                          q.copy(), dctx)
    num_v = eval_numerical_gradient_array(lambda x: s2s.dot_attention_forward(q, x)[0],
                                          values.copy(), dctx)
    assert rel_norm_error(dq, num_q) < TOL and rel_norm_error(dvalues, num_v) < TOL


def _small_model(attention, seed=0):
    model = s2s.Seq2Seq(9, 7, wordvec_dim=3, hidden_dim=4, attention=attention, attn_dim=5,
                        seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    for k in model.params:  # non-zero biases, larger embeddings: no symmetric draw
        model.params[k] += 0.3 * rng.standard_normal(model.params[k].shape)
    if attention == "additive":  # peaked weights: gradients of Wq and v well above rounding
        model.params["v"] *= 3
        model.params["Wq"] *= 3
    src = rng.integers(1, 9, size=(2, 4))
    tgt = np.array([[1, 3, 4, 5, 2], [1, 6, 2, 0, 0]])
    return model, src, tgt


@pytest.mark.parametrize("attention", [None, "additive", "dot"])
@pytest.mark.parametrize("free", [False, True])
def test_seq2seq_loss_gradients(attention, free):
    """Every parameter's gradient, teacher-forced and free running (the fed tokens are the
    model's own argmax, constant under the small perturbations of the check)."""
    model, src, tgt = _small_model(attention)
    feed = np.ones((2, 4), bool)
    if free:
        feed[:, 1:] = False
    _, grads = model.loss(src, tgt, feed)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        def f(_, name=name):
            return model.loss(src, tgt, feed)[0]
        numeric = eval_numerical_gradient(f, param, verbose=False, h=1e-4)
        assert rel_norm_error(grads[name], numeric) < MODEL_TOL, name


def test_a_dropped_gradient_path_is_caught(monkeypatch):
    """Planted fault: the output layer's gradient into the context vector is lost (a
    plausible slip). The model check above sees it on the attention weights."""
    model, src, tgt = _small_model("additive")
    real = s2s.attention_decoder_step_backward

    def faulty(dnext_h, dnext_c, dctx, cache):
        return real(dnext_h, dnext_c, np.zeros_like(dctx), cache)

    monkeypatch.setattr(s2s, "attention_decoder_step_backward", faulty)
    _, grads = model.loss(src, tgt)
    numeric = eval_numerical_gradient(lambda _: model.loss(src, tgt)[0], model.params["v"],
                                      verbose=False, h=1e-5)
    assert rel_norm_error(grads["v"], numeric) > 1e-2


def test_free_running_feeds_the_models_own_tokens():
    """With feed False, the loss equals the teacher-forced loss of the targets' prefixes
    replaced by the model's greedy output (planted fault: feeding tgt anyway fails this)."""
    model, src, tgt = _small_model("additive", seed=3)
    feed = np.zeros((2, 4), bool)
    feed[:, 0] = True
    free, _ = model.loss(src, tgt, feed)
    tokens, _ = model.greedy(src, 4)
    prefix = np.concatenate([tgt[:, :1], tokens[:, :3]], axis=1)
    # the same loss, computed by hand from the greedy prefixes
    values, keys, (h, c), _ = model.encode(src)
    total = 0.0
    for t in range(4):
        scores, h, c, _, _ = model._step(prefix[:, t], h, c, keys, values)
        lp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        y = tgt[:, t + 1]
        total += -(lp[np.arange(2), y] * (y != 0)).sum()
    assert np.isclose(free, total / 2)
    assert not np.isclose(free, model.loss(src, tgt)[0])


def test_beam_of_width_one_is_greedy_and_wider_beams_score_at_least_as_well():
    model, src, _ = _small_model("dot", seed=5)
    tokens, _ = model.greedy(src, 6)
    for n in range(2):
        seq, logp = model.beam(src[n], 1, 6)
        greedy = tokens[n][: list(tokens[n]).index(2) + 1] if 2 in tokens[n] else tokens[n]
        assert list(seq) == list(greedy)
        wide_seq, wide_logp = model.beam(src[n], 4, 6)
        assert wide_logp >= logp - 1e-12
        # the reported log-probability is the sequence's, scored teacher-forced
        tgt = np.concatenate([[1], wide_seq])[None]
        if wide_seq[-1] == 2:
            _, lp = model.score(src[n:n + 1], tgt)
            assert np.isclose(lp.sum(), wide_logp)


def test_number_words():
    assert numbers.to_words(0) == ["zero"]
    assert " ".join(numbers.to_words(304020)) == "three hundred four thousand twenty"
    assert " ".join(numbers.to_words(304020, "british")) == \
        "three hundred and four thousand and twenty"
    assert " ".join(numbers.to_words(1_000_000_005, "british")) == "one billion and five"
    assert numbers.to_words(999_999_999_999).count("nine") == 8
    with pytest.raises(ValueError):
        numbers.to_words(10 ** 12)


def test_number_words_parse_back():
    """An independent reading of the words (a running total, as one reads a cheque) gives
    the number back, for a thousand random pairs in both styles."""
    value = {w: i for i, w in enumerate(numbers.ONES)}
    value.update({w: 10 * i for i, w in enumerate(numbers.TENS) if i >= 2})
    scale = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9}
    for words, digits in numbers.sample_pairs(np.random.default_rng(7), 1000):
        total = part = 0
        for w in words:
            if w == "hundred":
                part *= 100
            elif w in scale:
                total, part = total + part * scale[w], 0
            elif w != "and":
                part += value[w]
        assert str(total + part) == digits, (words, digits)


def test_number_data_is_deterministic_and_split():
    a, b = numbers.NumberData.make(seed=3, train_size=500, test_size=100), \
        numbers.NumberData.make(seed=3, train_size=500, test_size=100)
    assert a.train == b.train and a.test == b.test
    assert not {t for _, t in a.test} & {t for _, t in a.train}
    src, tgt = a.batch(np.random.default_rng(0), 8)
    assert src.shape[0] == 8 and (tgt[:, 0] == 1).all()
    assert all(a.decode_target(row) for row in tgt)


def test_experiment_smoke_and_replay():
    """The experiment end to end at a tiny size: every run scored, the first losses replay
    bit for bit, and the scheduled-sampling probability is one half at mid-training."""
    from experiments import seq2seq as experiment

    result = experiment.run(out=None, log=lambda _: None, steps=12, train_size=300,
                            test_size=60, alignments=1, beam_width=2, hidden_dim=8,
                            wordvec_dim=4, attn_dim=4)
    assert set(result["runs"]) == set(experiment.RUNS)
    for run in result["runs"].values():
        assert 0 <= run["greedy_exact"] <= 1 and 0 <= run["greedy_chrf"] <= 100
        assert sum(v["count"] for v in run["by_source_length"].values()) == 60
    assert len(result["runs"]["additive"]["alignments"]) == 1
    assert all(rec == rep for _, rec, rep in experiment.replay(result))
    assert experiment.true_token_probability("scheduled", 6, 12) == pytest.approx(0.5)
    assert experiment.true_token_probability("teacher", 6, 12) == 1.0
