"""Sampling the next token from a language model's scores, with a temperature.

The random draws are an argument (uniform numbers in [0, 1)), so a sample is a deterministic
function of its inputs: the same draws give the same tokens, which makes sampling testable.
"""

import numpy as np

from rnntools.checks import dims, expect


def softmax_with_temperature(scores, temperature=1.0):
    """The probabilities softmax(scores / temperature) of every row, computed stably.

    Inputs:
    - scores: unnormalised log-probabilities, of shape (N, V).
    - temperature: positive float. Below 1 sharpens the distribution (towards the argmax),
      above 1 flattens it (towards uniform); 1 leaves the model's distribution unchanged.

    Returns:
    - probs: array of shape (N, V) and the dtype of scores; every row sums to 1.
    """
    dims("scores", scores, "(N, V)")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")

    # Subtracting the row maximum changes nothing mathematically and keeps exp from overflowing.
    shifted = scores / np.asarray(temperature, dtype=scores.dtype)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def sample_next(scores, u, temperature=1.0):
    """Draw one token per row from softmax(scores / temperature) by inverting its CDF.

    Inputs:
    - scores: unnormalised log-probabilities, of shape (N, V).
    - u: uniform random numbers in [0, 1), of shape (N,): the draw of each row.
    - temperature: positive float, as in softmax_with_temperature.

    Returns:
    - idx: integer array of shape (N,): the smallest index v whose cumulative probability
      p[0] + ... + p[v] exceeds u[n].
    """
    N, V = dims("scores", scores, "(N, V)")
    expect("u", u, "(N,)", (N,), u.dtype)

    probs = softmax_with_temperature(scores, temperature)
    cdf = np.cumsum(probs, axis=1)
    # Rounding can leave the last cumulative sum just below 1; a draw above it takes the last.
    idx = (cdf <= u[:, None]).sum(axis=1)
    return np.minimum(idx, V - 1)
