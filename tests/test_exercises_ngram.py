"""rnnlib.ngram (assignment 1) and rnnlib.sampling (assignment 3): values worked out by hand
and by brute force, and the bad-input errors."""

import math

import numpy as np
import pytest

from rnnlib.ngram import bigram_counts, bigram_probabilities, markov_sample, perplexity
from rnnlib.sampling import sample_next, softmax_with_temperature


def test_bigram_counts_by_brute_force():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(3, 9))
    counts = bigram_counts(x, 5)
    expected = np.zeros((5, 5))
    for row in x:
        for a, b in zip(row[:-1], row[1:], strict=True):
            expected[a, b] += 1
    assert counts.dtype == np.float64
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == 3 * 8  # no pair across rows


def test_bigram_probabilities_smoothing():
    counts = np.array([[0., 2., 0.], [0., 1., 2.], [0., 0., 0.]])
    p = bigram_probabilities(counts, alpha=1.0)
    np.testing.assert_allclose(p[0], [0.2, 0.6, 0.2])
    np.testing.assert_allclose(p.sum(axis=1), 1)
    p0 = bigram_probabilities(counts, alpha=0.0)
    np.testing.assert_allclose(p0[1], [0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(p0[2], 1 / 3)
    with pytest.raises(ValueError, match="alpha"):
        bigram_probabilities(counts, alpha=-1.0)


def test_perplexity_values():
    x = np.array([[0, 1, 2, 1, 2], [2, 2, 0, 1, 1]])
    assert perplexity(np.full((3, 3), 1 / 3), x) == pytest.approx(3)
    p = bigram_probabilities(bigram_counts(x, 3), alpha=0.5)
    logs = [math.log(p[a, b]) for row in x for a, b in zip(row[:-1], row[1:], strict=True)]
    assert perplexity(p, x) == pytest.approx(math.exp(-sum(logs) / len(logs)), rel=1e-12)
    cyclic = np.roll(np.eye(3), 1, axis=1)
    assert perplexity(cyclic, np.array([[0, 1, 2, 0]])) == pytest.approx(1)
    assert perplexity(cyclic, x) == math.inf
    with pytest.raises(ValueError, match="T >= 2"):
        perplexity(cyclic, np.array([[0]]))


def test_markov_sample_follows_the_inverse_cdf():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    u = np.array([[0.05, 0.5, 0.95, 0.1]])
    x = markov_sample(probs, np.array([0]), u)
    # from 0: 0.05 < 0.1 -> 0; from 0: 0.5 -> 1; from 1: 0.95 -> 2; from 2: 0.1 -> 0
    np.testing.assert_array_equal(x, [[0, 0, 1, 2, 0]])
    # A last cumulative sum rounded below 1 must still give a valid token.
    rounded = np.array([[0.5, 0.5 - 1e-12], [0.5, 0.5 - 1e-12]])
    assert markov_sample(rounded, np.array([0]), np.array([[1 - 1e-15]]))[0, 1] == 1
    with pytest.raises(ValueError, match="start"):
        markov_sample(probs, np.array([0.5]), u)


def test_softmax_with_temperature_and_sample_next():
    scores = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    p = softmax_with_temperature(scores, 1.0)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(p[0], e / e.sum())
    np.testing.assert_allclose(p[1], [1, 0, 0])
    np.testing.assert_allclose(softmax_with_temperature(scores, 2.0)[0], np.exp([.5, 1, 1.5]) /
                               np.exp([.5, 1, 1.5]).sum())
    assert softmax_with_temperature(scores.astype(np.float32), 0.5).dtype == np.float32
    with pytest.raises(ValueError, match="temperature"):
        softmax_with_temperature(scores, 0.0)
    cdf = np.cumsum(p[0])
    u = np.array([cdf[0] - 1e-9, 0.99])
    np.testing.assert_array_equal(sample_next(scores, u), [0, 0])
    np.testing.assert_array_equal(sample_next(scores, np.array([cdf[1], 0.5])), [2, 0])
    rng = np.random.default_rng(0)
    s = rng.standard_normal((200, 6))
    np.testing.assert_array_equal(sample_next(s, rng.random(200), 1e-3), s.argmax(axis=1))
