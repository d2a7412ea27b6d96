"""A tagging task that needs the future: label every character with its sentence's end.

Each row of a batch is a stream of made-up sentences: one to four words of one to five letters
from a small alphabet, separated by spaces, and one closing mark, '.', '?' or '!', drawn at
random and independently of the words. Sentences are separated by a space. The label of
every character (the separating space before a sentence included) is the class of the mark
that closes its sentence: 0 for '.', 1 for '?', 2 for '!'.

Nothing before the mark says which mark it will be, so a model that reads left to right can
only guess (one chance in three) until it reaches the mark; a model that also reads right to
left (a bidirectional RNN) can know every label. The last sentence of a row is usually cut
off by the window: its mark is outside, so its positions are masked out of the loss and of
the accuracy for every model alike.

Deterministic from the generator it is given:

    rng = np.random.default_rng(0)
    x, y, mask = sentence_batch(rng, 32, 40)     # (32, 40) ids, labels, mask
    print(decode(x[0]))
"""

import numpy as np

LETTERS = "abcdef"
MARKS = ".?!"
VOCAB = " " + LETTERS + MARKS     # id 0 is the space
NUM_CLASSES = len(MARKS)
MAX_WORDS, MAX_LETTERS = 4, 5


def _sentence(rng):
    """The text of one sentence, its closing mark included, and the mark's class."""
    words = ["".join(LETTERS[i] for i in rng.integers(len(LETTERS),
                                                     size=rng.integers(1, MAX_LETTERS + 1)))
             for _ in range(rng.integers(1, MAX_WORDS + 1))]
    mark = int(rng.integers(NUM_CLASSES))
    return " ".join(words) + MARKS[mark], mark


def sentence_row(rng, T):
    """One row: (text of length T, labels (T,), mask (T,), distance to the mark (T,))."""
    text, labels, dist = "", [], []
    while True:
        sentence, mark = _sentence(rng)
        piece = (" " if text else "") + sentence
        labels += [mark] * len(piece)
        dist += list(range(len(piece) - 1, -1, -1))
        text += piece
        if len(text) >= T:
            break
    mask = np.ones(len(text), bool)
    mask[len(text) - len(piece):] = False          # the last sentence: its mark may be cut off
    if len(text) == T:
        mask[:] = True                             # unless the window ends exactly on it
    return text[:T], np.array(labels[:T]), mask[:T], np.array(dist[:T])


def sentence_batch(rng, N, T, with_distance=False):
    """A batch of N rows of T characters.

    Inputs:
    - rng: np.random.Generator.
    - N, T: rows and characters per row.
    - with_distance: also return each position's distance to its sentence's mark.

    Returns x (N, T) int ids into VOCAB, y (N, T) int labels in [0, NUM_CLASSES), mask (N, T)
    bool (the positions whose mark lies inside the window), and with_distance the distance
    (N, T) int (0 at the mark itself).
    """
    rows = [sentence_row(rng, T) for _ in range(N)]
    x = np.array([[VOCAB.index(ch) for ch in text] for text, *_ in rows])
    y, mask, dist = (np.stack([row[k] for row in rows]) for k in (1, 2, 3))
    return (x, y, mask, dist) if with_distance else (x, y, mask)


def decode(ids):
    """The text of a row of ids."""
    return "".join(VOCAB[i] for i in ids)
