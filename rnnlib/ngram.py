"""Count-based sequence models: the bigram (first-order Markov) model and perplexity.

Sequences are integer arrays of token indices in [0, V), of shape (N, T): N sequences of T
tokens. A bigram model predicts token x[t] from x[t-1] alone.
"""

import numpy as np

from rnntools.checks import dims, expect, expect_int


def bigram_counts(x, V):
    """Count how often each token follows each other token.

    Inputs:
    - x: integer array of shape (N, T), token indices in [0, V). Pairs never cross from one
      sequence (row) into the next.
    - V: the vocabulary size.

    Returns:
    - counts: float64 array of shape (V, V); counts[a, b] is the number of positions t >= 1 of
      any row with x[t-1] = a and x[t] = b.
    """
    expect_int("x", x, upper=V)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array of shape (N, T), got shape {x.shape}")

    counts = np.zeros((V, V))
    # np.add.at adds every occurrence of a repeated (a, b) pair, unlike counts[a, b] += 1.
    np.add.at(counts, (x[:, :-1].ravel(), x[:, 1:].ravel()), 1.0)
    return counts


def bigram_probabilities(counts, alpha=1.0):
    """Turn bigram counts into conditional probabilities with add-alpha (Laplace) smoothing.

    Inputs:
    - counts: array of shape (V, V), as returned by bigram_counts.
    - alpha: non-negative float added to every count. With alpha = 0 a row without any count
      has no distribution: it gets the uniform one.

    Returns:
    - probs: array of shape (V, V) with probs[a, b] = P(next = b | previous = a)
      = (counts[a, b] + alpha) / (sum_b' counts[a, b'] + V alpha); every row sums to 1.
    """
    V = dims("counts", counts, "(V, V)")[0]
    expect("counts", counts, "(V, V)", (V, V), counts.dtype)
    if not alpha >= 0:
        raise ValueError(f"alpha must be non-negative, got {alpha!r}")

    smoothed = counts + alpha
    totals = smoothed.sum(axis=1, keepdims=True)
    empty = totals[:, 0] == 0
    probs = np.divide(smoothed, totals, out=np.zeros_like(smoothed), where=totals > 0)
    probs[empty] = 1.0 / V
    return probs


def perplexity(probs, x):
    """Perplexity of a bigram model on sequences: exp of the mean negative log-likelihood.

    Inputs:
    - probs: conditional probabilities of shape (V, V), probs[a, b] = P(b | a).
    - x: integer array of shape (N, T), T >= 2, token indices in [0, V). The first token of
      each row is given; the (T - 1) N following ones are predicted.

    Returns:
    - ppl: float, exp(-(1 / (N (T - 1))) sum_{n, t >= 1} log probs[x[n, t-1], x[n, t]]).
      It is infinite if the model gives probability 0 to a pair that occurs.
    """
    V = dims("probs", probs, "(V, V)")[0]
    expect_int("x", x, upper=V)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must have shape (N, T) with T >= 2, got shape {x.shape}")

    p = probs[x[:, :-1], x[:, 1:]]
    with np.errstate(divide="ignore"):
        nll = -np.log(p).mean()
    return float(np.exp(nll))


def markov_sample(probs, start, u):
    """Sample sequences from a bigram model, drawing each token by inverting its row's CDF.

    Inputs:
    - probs: conditional probabilities of shape (V, V), probs[a, b] = P(b | a).
    - start: integer array of shape (N,), the first token of each sequence.
    - u: uniform random numbers in [0, 1), of shape (N, T - 1): the draw of every later token.

    Returns:
    - x: integer array of shape (N, T) with x[:, 0] = start and x[n, t] the smallest index b
      whose cumulative probability probs[x[n, t-1], 0] + ... + probs[x[n, t-1], b] exceeds
      u[n, t-1].
    """
    V = dims("probs", probs, "(V, V)")[0]
    expect_int("start", start, upper=V)
    N = start.shape[0]
    steps = dims("u", u, "(N, T - 1)")[1]
    expect("u", u, "(N, T - 1)", (N, steps), u.dtype)

    cdf = np.cumsum(probs, axis=1)
    x = np.empty((N, steps + 1), dtype=np.int64)
    x[:, 0] = start
    for t in range(steps):
        rows = cdf[x[:, t]]
        # Rounding can leave a row's last cumulative sum just below 1: clamp to the last token.
        x[:, t + 1] = np.minimum((rows <= u[:, t, None]).sum(axis=1), V - 1)
    return x
