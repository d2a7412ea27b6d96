"""Words: tokenisation, a vocabulary with <unk>, n-gram counts and an interpolated n-gram model.

Tokens are the words of the text (letters, with inner apostrophes: "o'er", "Call'd"), each
punctuation mark, and the line break, which carries the layout of a play; case is kept.
`detokenize` puts the spaces back (one between tokens, none before punctuation or around a
line break), which rebuilds most of Tiny Shakespeare exactly; `reconstruction_rate` says how
much.

The vocabulary keeps the tokens seen at least `min_count` times in the training text; every
other token becomes <unk> (id 0). A model over this vocabulary never spells a rare word, so its
loss per character leaves out that cost; `unk_spelling_nats` prices it with a character
unigram model, so that word and character models can be compared in bits per character.
"""

import math
import re
from collections import Counter

import numpy as np

UNK = "<unk>"
TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\n|[^\sA-Za-z]")
NO_SPACE_BEFORE = set(".,;:!?'-\n")
# Candidate interpolation weights of the higher orders (fit_weights).
WEIGHT_GRID = tuple(np.linspace(0.05, 0.9, 18))


def tokenize(text):
    """The tokens of a text, in order (a list of str)."""
    return TOKEN.findall(text)


def detokenize(tokens):
    """A text from tokens: one space between tokens, none before punctuation or a line
    break, none after a line break."""
    out = []
    for i, tok in enumerate(tokens):
        if i and tok not in NO_SPACE_BEFORE and tokens[i - 1] != "\n":
            out.append(" ")
        out.append(tok)
    return "".join(out)


def reconstruction_rate(text):
    """The fraction of a text's lines that detokenize(tokenize(text)) rebuilds exactly."""
    lines = text.split("\n")
    rebuilt = detokenize(tokenize(text)).split("\n")
    if len(rebuilt) != len(lines):
        return 0.0
    return sum(a == b for a, b in zip(lines, rebuilt, strict=True)) / len(lines)


class WordVocab:
    """Tokens seen at least min_count times, most frequent first; id 0 is <unk>.

    Inputs:
    - tokens: the training tokens (list of str).
    - min_count: the frequency cut-off.
    """

    def __init__(self, tokens, min_count=3):
        counts = Counter(tokens)
        kept = sorted((t for t, c in counts.items() if c >= min_count),
                      key=lambda t: (-counts[t], t))
        self.itos = [UNK, *kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.min_count = min_count

    @property
    def size(self):
        return len(self.itos)

    def encode(self, tokens):
        """Int array (len(tokens),) of ids; unknown tokens are 0."""
        return np.array([self.stoi.get(t, 0) for t in tokens], dtype=np.int64)

    def decode(self, ids):
        return [self.itos[i] for i in ids]


def ngram_frequencies(tokens, n):
    """The counts of the distinct n-grams of a token list, largest first (int array)."""
    grams = Counter(zip(*(tokens[k:len(tokens) - n + 1 + k] for k in range(n)), strict=True))
    return np.array(sorted(grams.values(), reverse=True))


def _keys(ids, n, V):
    """One int64 per n-gram ending at each position >= n - 1 of ids."""
    key = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for k in range(n):
        key = key * V + ids[k:len(ids) - n + 1 + k]
    return key


class _Counts:
    """Counts of the n-grams of one order, looked up by their int64 keys."""

    def __init__(self, keys):
        self.keys, self.counts = np.unique(keys, return_counts=True)

    def __call__(self, keys):
        at = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.counts[at], 0).astype(np.float64)


class InterpolatedNgram:
    """p(w | u, v) = l3 p_ML(w | u, v) + l2 p_ML(w | v) + l1 p_add1(w), over a WordVocab.

    Maximum-likelihood trigram and bigram estimates (for a context never seen in training,
    the next lower order's estimate), interpolated with an add-one unigram so that every
    token has a probability (Jelinek & Mercer). With
    order 2, l3 = 0. The weights are chosen on held-out ids by `fit_weights`.

    Inputs:
    - ids: training ids (1-d int array).
    - V: vocabulary size.
    - order: 2 or 3.
    """

    def __init__(self, ids, V, order=3):
        self.V, self.order = V, order
        self.unigram = (np.bincount(ids, minlength=V) + 1.0) / (len(ids) + V)
        self.counts = {n: _Counts(_keys(ids, n, V)) for n in range(2, order + 1)}
        # How often each (n-1)-gram is followed by a token: the denominators of p_ML.
        self.contexts = {n: _Counts(_keys(ids[:-1], n - 1, V)) for n in range(2, order + 1)}
        self.weights = (0.5, 0.5) if order == 2 else (0.2, 0.4, 0.4)

    def _parts(self, ids):
        """Per position t >= order - 1: the unigram, bigram and trigram estimates. An n-gram
        estimate whose context was never seen in training is the (n-1)-gram's instead, so
        that every mixture sums to 1 over the vocabulary."""
        o = self.order
        parts = [self.unigram[ids[o - 1:]]]
        for n in range(2, o + 1):
            joint = self.counts[n](_keys(ids, n, self.V)[o - n:])
            hist = self.contexts[n](_keys(ids[:-1], n - 1, self.V)[o - n:])
            ml = np.divide(joint, hist, out=np.zeros_like(joint), where=hist > 0)
            parts.append(np.where(hist > 0, ml, parts[-1]))
        return parts

    def log_probs(self, ids):
        """Natural log-probability of each token from position order - 1 on (1-d array)."""
        return np.log(sum(lam * p for lam, p in zip(self.weights, self._parts(ids),
                                                    strict=True)))

    def fit_weights(self, ids, grid=WEIGHT_GRID):
        """Choose the interpolation weights that maximise the likelihood of held-out ids."""
        parts = self._parts(ids)
        best = (-math.inf, self.weights)
        if self.order == 2:
            candidates = [(1 - a, a) for a in grid]
        else:
            candidates = [(1 - a - b, a, b) for a in grid for b in grid if a + b < 0.98]
        for lams in candidates:
            ll = float(np.log(sum(lam * p for lam, p in zip(lams, parts, strict=True))).sum())
            best = max(best, (ll, lams))
        self.weights = best[1]
        return self.weights


def unk_spelling_nats(tokens, vocab, char_probs):
    """The nats needed to spell, character by character, every token of `tokens` that the
    vocabulary maps to <unk>, under a character unigram model (char -> probability)."""
    total = 0.0
    for tok in tokens:
        if tok not in vocab.stoi:
            total -= sum(math.log(char_probs[ch]) for ch in tok)
    return total
