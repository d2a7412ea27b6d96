"""collections.Counter for the counts, log-space perplexity with a sum divided by the count,
and a sampler that compares u against the running CDF with argmax."""

from collections import Counter

import numpy as np


def bigram_counts(x, V):
    c = Counter(zip(x[:, :-1].ravel().tolist(), x[:, 1:].ravel().tolist()))
    counts = np.zeros((V, V), dtype=np.float64)
    for (a, b), k in c.items():
        counts[a, b] = k
    return counts


def bigram_probabilities(counts, alpha=1.0):
    V = len(counts)
    smoothed = counts.astype(np.float64) + alpha
    sums = smoothed.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = smoothed / sums
    probs[sums[:, 0] == 0] = 1 / V
    return probs


def perplexity(probs, x):
    with np.errstate(divide="ignore"):
        logp = np.log(probs[x[:, :-1], x[:, 1:]])
    n = x.shape[0] * (x.shape[1] - 1)
    return float(np.exp(-logp.sum() / n))


def markov_sample(probs, start, u):
    N = len(start)
    V = probs.shape[1]
    x = np.empty((N, u.shape[1] + 1), dtype=np.int64)
    x[:, 0] = start
    for t in range(u.shape[1]):
        cdf = probs[x[:, t]].cumsum(axis=1)
        above = cdf > u[:, t:t + 1]
        x[:, t + 1] = np.where(above.any(axis=1), above.argmax(axis=1), V - 1)
    return x
