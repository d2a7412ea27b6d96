"""rnnlib.words: tokens, the vocabulary, n-gram counts and the interpolated n-gram model."""

import itertools
import math

import numpy as np
import pytest

from rnnlib import words

TEXT = "KING:\nO'er the hills, my lord!\nCall'd he?\n\nQUEEN:\nAy.\n"


def test_tokens_and_their_reconstruction():
    tokens = words.tokenize(TEXT)
    assert tokens[:6] == ["KING", ":", "\n", "O'er", "the", "hills"]
    assert "Call'd" in tokens and tokens.count("\n") == 6
    assert words.detokenize(tokens) == TEXT
    assert words.reconstruction_rate(TEXT) == 1.0
    assert words.reconstruction_rate("a  b\n") == 0.5       # the double space is lost


def test_vocabulary_cut_off_and_unk():
    vocab = words.WordVocab(["a", "b", "a", "c", "a", "b"], min_count=2)
    assert vocab.itos == ["<unk>", "a", "b"]
    assert list(vocab.encode(["a", "c", "b", "zz"])) == [1, 0, 2, 0]


def test_ngram_frequencies_are_sorted_counts():
    assert list(words.ngram_frequencies(list("abab"), 2)) == [2, 1]   # ab twice, ba once


@pytest.mark.parametrize("order", [2, 3])
def test_the_mixture_sums_to_one_over_the_vocabulary(order):
    rng = np.random.default_rng(0)
    V = 6
    train = rng.integers(0, V, 300)
    train[train == 5] = 4                   # token 5 never seen: contexts with it are unseen
    model = words.InterpolatedNgram(train, V, order)
    model.weights = (0.2, 0.8) if order == 2 else (0.1, 0.3, 0.6)
    for context in itertools.product(range(V), repeat=order - 1):
        seqs = [np.array([*context, w]) for w in range(V)]
        total = sum(math.exp(model.log_probs(s)[-1]) for s in seqs)
        assert total == pytest.approx(1.0, abs=1e-12), context


def test_ml_estimates_by_hand():
    train = np.array([0, 1, 0, 1, 0, 2])
    model = words.InterpolatedNgram(train, 3, 2)
    model.weights = (0.0, 1.0)                                 # the bigram alone
    # After 0 come 1, 1, 2: p(1 | 0) = 2/3.
    assert math.exp(model.log_probs(np.array([0, 1]))[0]) == pytest.approx(2 / 3)


def test_fitted_weights_beat_the_defaults_on_held_out_text():
    rng = np.random.default_rng(1)
    train, held = rng.integers(0, 20, 2000), rng.integers(0, 20, 500)
    model = words.InterpolatedNgram(train, 20, 3)
    before = model.log_probs(held).sum()
    model.fit_weights(held)
    assert model.log_probs(held).sum() >= before


def test_unknown_words_are_spelled_with_character_probabilities():
    vocab = words.WordVocab(["ab", "ab"], min_count=1)
    nats = words.unk_spelling_nats(["ab", "ba", "b"], vocab, {"a": 0.5, "b": 0.25})
    assert nats == pytest.approx(-(math.log(0.25) + math.log(0.5)) - math.log(0.25))
