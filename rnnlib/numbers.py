"""A generated translation task: English number words to digits.

A source sentence is a whole number from 0 to 999,999,999,999 written in English words, one
token per word, in one of two styles: American ("three hundred four thousand twenty") or
British, with "and" before the last part below a hundred ("three hundred and four thousand
and twenty"). Its target is the number in digits, one token per digit ("304020"). The pairs
are deterministic from a seed; docs/numbers.md describes the task in full.

The task has what makes translation hard for an encoder-decoder while staying small: the
two sides differ in length (1 to 23 words against 1 to 12 digits) and in order (the words
for the millions come first, but "thousand" or "million" decides where a digit goes only once
it is read), and a zero digit has no word at all.

    rng = np.random.default_rng(0)
    pairs = sample_pairs(rng, 5)          # [(['seven', 'hundred', ...], '712'), ...]
    data = NumberData.make(seed=0)        # vocabularies, training and test pairs
    src, tgt = data.batch(rng, 64)        # one batch, every source of one length
"""

from dataclasses import dataclass, field

import numpy as np

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (10 ** 3, "thousand"))
MAX_DIGITS = 12
STYLES = ("american", "british")

NULL, START, END = "<NULL>", "<START>", "<END>"
SOURCE_WORDS = [NULL, *ONES, *TENS[2:], "hundred", "thousand", "million", "billion", "and"]
TARGET_TOKENS = [NULL, START, END, *"0123456789"]


def _below_hundred(n):
    if n < 20:
        return [ONES[n]]
    return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])


def _below_thousand(n, british):
    """Words for 1 <= n <= 999."""
    hundreds, rest = divmod(n, 100)
    words = [ONES[hundreds], "hundred"] if hundreds else []
    if rest:
        words += (["and"] if british and hundreds else []) + _below_hundred(rest)
    return words


def to_words(n, style="american"):
    """The English words for a whole number 0 <= n < 10**12, as a list of tokens.

    Inputs:
    - n: int.
    - style: 'american' or 'british' (British English puts "and" before the last part
      below a hundred: "one hundred and five", "two thousand and seven").
    """
    if not 0 <= n < 10 ** MAX_DIGITS or int(n) != n:
        raise ValueError(f"n must be a whole number in [0, 10**{MAX_DIGITS}); got {n!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}; got {style!r}")
    n, british = int(n), style == "british"
    if n == 0:
        return ["zero"]
    words = []
    for scale, name in SCALES:
        if n >= scale:
            words += _below_thousand(n // scale, british) + [name]
            n %= scale
    if n:
        if british and words and n < 100:
            words.append("and")
        words += _below_thousand(n, british)
    return words


def from_digits(tokens):
    """The number a sequence of digit tokens spells ('304020' -> 304020); None if empty."""
    text = "".join(tokens)
    return int(text) if text.isdigit() else None


def sample_pairs(rng, count):
    """`count` (source words, target digits) pairs.

    The number of digits is uniform over 1..12 and the number uniform among the numbers of
    that many digits (0-9 for one digit), so long and short numbers are equally common; the
    style is American or British with equal probability.
    """
    digits = rng.integers(1, MAX_DIGITS + 1, size=count)
    low = np.where(digits == 1, 0, 10 ** (digits - 1).astype(np.int64))
    numbers = low + (rng.random(count) * (10 ** digits.astype(np.int64) - low)).astype(np.int64)
    styles = rng.integers(len(STYLES), size=count)
    return [(to_words(int(n), STYLES[s]), str(int(n)))
            for n, s in zip(numbers, styles, strict=True)]


@dataclass
class NumberData:
    """Training and test pairs with their vocabularies and integer encodings.

    - train, test: lists of (source words, target digits); no number of the test set occurs
      in the training set (in either style).
    - src_vocab, tgt_vocab: token lists; id 0 is <NULL> on both sides, the target side also
      has <START> (1) and <END> (2).
    """

    train: list
    test: list
    src_vocab: list = field(default_factory=lambda: list(SOURCE_WORDS))
    tgt_vocab: list = field(default_factory=lambda: list(TARGET_TOKENS))

    @classmethod
    def make(cls, seed=0, train_size=20000, test_size=2400):
        """Draw the pairs from np.random.default_rng(seed): training first, then test pairs
        until `test_size` numbers not in the training set are found."""
        rng = np.random.default_rng(seed)
        train = sample_pairs(rng, train_size)
        seen = {t for _, t in train}
        test = []
        while len(test) < test_size:
            test += [p for p in sample_pairs(rng, test_size) if p[1] not in seen]
            seen |= {t for _, t in test}
        return cls(train, test[:test_size])

    def encode_source(self, pairs):
        """(N, S) int array of source ids; all pairs must have sources of one length S."""
        index = {w: i for i, w in enumerate(self.src_vocab)}
        lengths = {len(s) for s, _ in pairs}
        if len(lengths) != 1:
            raise ValueError(f"sources of one length expected; got lengths {sorted(lengths)}")
        return np.array([[index[w] for w in s] for s, _ in pairs], dtype=np.int64)

    def encode_target(self, pairs):
        """(N, T + 2) int array: <START>, the digits, <END>, then <NULL> padding to the longest
        target T."""
        index = {t: i for i, t in enumerate(self.tgt_vocab)}
        T = max(len(t) for _, t in pairs)
        out = np.full((len(pairs), T + 2), index[NULL], dtype=np.int64)
        for row, (_, digits) in enumerate(pairs):
            ids = [index[START], *(index[d] for d in digits), index[END]]
            out[row, :len(ids)] = ids
        return out

    def decode_target(self, ids):
        """The digit string of one row of target ids, up to the first <END>."""
        tokens = []
        for i in ids:
            token = self.tgt_vocab[int(i)]
            if token == END:
                break
            if token not in (NULL, START):
                tokens.append(token)
        return "".join(tokens)

    def by_length(self, pairs):
        """{source length: [pairs]} (a batch holds sources of one length: no padding)."""
        groups = {}
        for pair in pairs:
            groups.setdefault(len(pair[0]), []).append(pair)
        return dict(sorted(groups.items()))

    def batch(self, rng, batch_size):
        """One training batch (src (N, S), tgt (N, T + 2)): a training pair drawn uniformly
        fixes the source length S, and the batch is drawn from the pairs of that length."""
        if not hasattr(self, "_groups"):
            self._groups = self.by_length(self.train)
        S = len(self.train[int(rng.integers(len(self.train)))][0])
        group = self._groups[S]
        pick = [group[i] for i in rng.integers(len(group), size=batch_size)]
        return self.encode_source(pick), self.encode_target(pick)
