"""Typical mistakes: counts that let pairs cross from one row into the next (the array is
flattened first), smoothing that adds alpha to the counts but not V alpha to the row total
(rows no longer sum to 1), perplexity averaged over N T tokens instead of the N (T - 1)
predicted ones, and a sampler off by one (it takes the token after the one whose CDF first
exceeds u)."""

import numpy as np

LOSES = {
    "test_bigram_counts": "own bug: pairs cross rows (x flattened before pairing)",
    "test_bigram_probabilities": "own bug: row total without V alpha",
    "test_perplexity": "own bug: mean over N T instead of N (T - 1)",
    "test_markov_sample": "own bug: off by one (the token after the right one)",
}


def bigram_counts(x, V):
    flat = x.ravel()  # wrong: the last token of a row and the first of the next are no pair
    counts = np.zeros((V, V))
    np.add.at(counts, (flat[:-1], flat[1:]), 1)
    return counts


def bigram_probabilities(counts, alpha=1.0):
    V = counts.shape[0]
    totals = counts.sum(axis=1, keepdims=True)  # wrong: + V * alpha is missing
    probs = np.full((V, V), 1.0 / V)
    rows = totals[:, 0] > 0
    probs[rows] = (counts[rows] + alpha) / totals[rows]
    return probs


def perplexity(probs, x):
    with np.errstate(divide="ignore"):
        nll = -np.log(probs[x[:, :-1], x[:, 1:]]).sum()
    return float(np.exp(nll / x.size))  # wrong: x.size counts the first tokens too


def markov_sample(probs, start, u):
    cdf = np.cumsum(probs, axis=1)
    V = probs.shape[1]
    x = np.empty((len(start), u.shape[1] + 1), dtype=np.int64)
    x[:, 0] = start
    for t in range(u.shape[1]):
        idx = (cdf[x[:, t]] <= u[:, t, None]).sum(axis=1) + 1  # wrong: one too far
        x[:, t + 1] = np.minimum(idx, V - 1)
    return x
