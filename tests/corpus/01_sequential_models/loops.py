"""Plain Python loops over rows and positions, as a first-time NumPy user writes them; the
CDF is walked token by token."""

import numpy as np


def bigram_counts(x, V):
    counts = np.zeros((V, V))
    for row in x:
        for t in range(1, len(row)):
            counts[row[t - 1], row[t]] += 1
    return counts


def bigram_probabilities(counts, alpha=1.0):
    V = counts.shape[0]
    probs = np.empty((V, V))
    for a in range(V):
        total = counts[a].sum() + V * alpha
        probs[a] = (counts[a] + alpha) / total if total > 0 else 1.0 / V
    return probs


def perplexity(probs, x):
    total, n = 0.0, 0
    for row in x:
        for t in range(1, len(row)):
            p = probs[row[t - 1], row[t]]
            if p == 0:
                return float("inf")
            total -= np.log(p)
            n += 1
    return float(np.exp(total / n))


def markov_sample(probs, start, u):
    N, steps = u.shape
    V = probs.shape[1]
    x = np.zeros((N, steps + 1), dtype=int)
    x[:, 0] = start
    for n in range(N):
        for t in range(steps):
            acc, b = 0.0, 0
            row = probs[x[n, t]]
            while b < V - 1:
                acc += row[b]
                if acc > u[n, t]:
                    break
                b += 1
            x[n, t + 1] = b
    return x
