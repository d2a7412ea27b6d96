"""Character data: a vocabulary, Tiny Shakespeare, a train/validation split, BPTT batches.

Truncated backpropagation through time needs batches whose rows continue each other from
one chunk to the next: the corpus is cut into N contiguous streams (one per batch row), and
chunk k+1 of row n is the text right after chunk k of row n. A model can then carry its
hidden state from one chunk to the next and only the gradient is truncated.
"""

from pathlib import Path

import numpy as np

__all__ = [
    "CharVocab",
    "BPTTBatcher",
    "load_tinyshakespeare",
    "tinyshakespeare_path",
    "train_val_split",
]


class CharVocab:
    """A character vocabulary: the sorted distinct characters of a text, each with an id.

    ``CharVocab(text)`` builds it; ids are assigned in sorted character order, so the same
    set of characters always gives the same ids.

    Attributes:
    - chars: list of the characters; ``chars[i]`` is the character with id i.
    - char_to_idx: dict mapping each character to its id.
    """

    def __init__(self, text):
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must contain at least one character")
        self.chars = sorted(set(text))
        self.char_to_idx = {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    @property
    def size(self):
        """The vocabulary size V."""
        return len(self.chars)

    def __repr__(self):
        return f"CharVocab(size={self.size})"

    def encode(self, text):
        """Ids of the characters of ``text``.

        Inputs:
        - text: str of length L.

        Returns an int64 array of shape (L,). A character outside the vocabulary raises
        ValueError naming the character and its position in ``text``.
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        table = self.char_to_idx
        try:
            ids = [table[ch] for ch in text]
        except KeyError as err:
            ch = err.args[0]
            pos = text.index(ch)
            raise ValueError(
                f"unknown character {ch!r} at position {pos}: it is not in the vocabulary "
                f"of {self.size} characters"
            ) from None
        return np.array(ids, dtype=np.int64)

    def decode(self, ids):
        """The text whose character ids are ``ids``.

        Inputs:
        - ids: sequence or 1-d integer array of length L, each in [0, V).

        Returns a str of length L. An id outside [0, V) raises ValueError naming its position.
        """
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"ids must be 1-dimensional, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"ids must be integers, got dtype {arr.dtype}")
        bad = np.flatnonzero((arr < 0) | (arr >= self.size))
        if bad.size:
            pos = int(bad[0])
            raise ValueError(
                f"ids[{pos}] = {int(arr[pos])} is outside the vocabulary [0, {self.size})"
            )
        chars = self.chars
        return "".join(chars[i] for i in arr.tolist())


def tinyshakespeare_path():
    """Path of ``data/tinyshakespeare.txt`` in the repository that holds this package."""
    return Path(__file__).resolve().parent.parent / "data" / "tinyshakespeare.txt"


def load_tinyshakespeare():
    """The Tiny Shakespeare corpus as one str (1,115,394 characters, 65 distinct)."""
    path = tinyshakespeare_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the corpus is committed with the repository (see data/README.md)"
        )
    return path.read_text(encoding="utf-8")


def train_val_split(text, frac=0.9):
    """Split a sequence into its first ``frac`` and the rest, both contiguous.

    Inputs:
    - text: str or 1-d array of length L.
    - frac: fraction in (0, 1) that goes to the training part.

    Returns a tuple (train, val) with train = text[:int(L * frac)] and val the rest. The split
    is contiguous rather than shuffled so that validation text is never seen, even as a
    neighbour of a training character.
    """
    if not 0 < frac < 1:
        raise ValueError(f"frac must be in (0, 1), got {frac!r}")
    n = int(len(text) * frac)
    return text[:n], text[n:]


class BPTTBatcher:
    """Contiguous (x, y) chunks of a sequence of ids for truncated BPTT.

    The first ``N * L + 1`` ids, with ``L = (len(ids) - 1) // N``, are used: row n of the batch
    reads the stream ``ids[n*L : (n+1)*L + 1]``; inputs are the stream without its last id and
    targets the stream shifted by one. An epoch is ``len(self) = L // T`` chunks; chunk k holds
    steps ``k*T .. (k+1)*T - 1`` of every stream, so chunk k+1 of row n continues chunk k of row
    n, and the hidden state at the end of one chunk is the right initial state for the next.
    The last ``L % T`` steps of each stream are dropped so that every chunk has shape (N, T).

    Inputs:
    - ids: 1-d integer array of length at least N * T + 1.
    - batch_size: N, the number of parallel streams.
    - seq_len: T, the number of time steps per chunk.

    Iterating over the batcher gives one epoch of ``(x, y)`` int64 arrays of shape (N, T), in
    order. For a training loop that runs across epochs, ``next_batch()`` returns
    ``(x, y, new_epoch)`` forever: ``new_epoch`` is True for the first chunk of each epoch,
    the point at which a carried state must be reset (the streams start over).
    ``sample_batch(rng=None)`` wraps it for ``rnnlib.solver.Solver``: it returns the keyword
    arguments ``{"x": x, "y": y}`` plus ``"h0": None`` at the start of an epoch.
    """

    def __init__(self, ids, batch_size, seq_len):
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-dimensional, got shape {ids.shape}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
        if int(batch_size) < 1 or int(seq_len) < 1:
            raise ValueError(
                f"batch_size and seq_len must be positive, got {batch_size!r}, {seq_len!r}"
            )
        N, T = int(batch_size), int(seq_len)
        L = (len(ids) - 1) // N
        if L < T:
            raise ValueError(
                f"ids has length {len(ids)}, too short for batch_size={N} streams of "
                f"seq_len={T}: need at least N * T + 1 = {N * T + 1}"
            )
        self.batch_size, self.seq_len = N, T
        self.stream_len = L
        ids = ids.astype(np.int64, copy=False)
        self._x = ids[: N * L].reshape(N, L)
        self._y = ids[1 : N * L + 1].reshape(N, L)
        self.epoch = 0  # epochs completed by next_batch()
        self._k = 0  # index of the next chunk served by next_batch()

    def __len__(self):
        return self.stream_len // self.seq_len

    def chunk(self, k):
        """The k-th (x, y) chunk of an epoch, k in [0, len(self))."""
        if not 0 <= k < len(self):
            raise IndexError(f"chunk index {k} out of range [0, {len(self)})")
        s = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return self._x[:, s].copy(), self._y[:, s].copy()

    def __iter__(self):
        for k in range(len(self)):
            yield self.chunk(k)

    def next_batch(self):
        """The next chunk across epochs: ``(x, y, new_epoch)``."""
        if self._k == len(self):
            self._k = 0
            self.epoch += 1
        new_epoch = self._k == 0
        x, y = self.chunk(self._k)
        self._k += 1
        return x, y, new_epoch

    def sample_batch(self, rng=None):
        """``next_batch()`` as Solver keyword arguments; ``rng`` is unused (order is fixed)."""
        x, y, new_epoch = self.next_batch()
        batch = {"x": x, "y": y}
        if new_epoch:
            batch["h0"] = None
        return batch

    def state_dict(self):
        """The position in the data, as JSON-able ints (for checkpoints)."""
        return {"epoch": self.epoch, "next_chunk": self._k}

    def load_state_dict(self, state):
        """Restore a position saved by ``state_dict``."""
        self.epoch = int(state["epoch"])
        self._k = int(state["next_chunk"])


def streams(ids, batch_size):
    """Cut a 1-D array of ids into `batch_size` contiguous streams, shape (batch_size, L)."""
    ids = np.asarray(ids)
    L = len(ids) // batch_size
    if L < 2:
        raise ValueError(f"text of {len(ids)} characters is too short for {batch_size} streams")
    return np.ascontiguousarray(ids[: L * batch_size].reshape(batch_size, L))


class StreamBatches:
    """Truncated-BPTT chunks of contiguous streams, for `rnnlib.training.Trainer`.

    Each call returns ``{"x": x, "y": y}`` with x = ids[:, p:p+T] and y = ids[:, p+1:p+T+1];
    when the next chunk would run past the end of the streams it starts again at 0 and adds
    ``"h0": None``, which resets the carried state. Unlike `BPTTBatcher`, a stream's targets
    never cross into the next stream (the layout of the PyTorch benchmark).

    Inputs:
    - ids: int array (N, L) of N streams, e.g. from `streams`.
    - seq_len: T, steps per chunk.
    """

    def __init__(self, ids, seq_len):
        if ids.shape[1] < seq_len + 1:
            raise ValueError(f"streams of length {ids.shape[1]} are too short for seq_len "
                             f"{seq_len}")
        self.ids, self.seq_len, self.pos = ids, int(seq_len), 0

    def __call__(self, rng=None):
        T, batch = self.seq_len, {}
        if self.pos + T + 1 > self.ids.shape[1]:
            self.pos, batch["h0"] = 0, None  # one epoch done: start again from a zero state
        p = self.pos
        batch["x"], batch["y"] = self.ids[:, p:p + T], self.ids[:, p + 1:p + T + 1]
        self.pos += T
        return batch

    def state_dict(self):
        """The position in the streams (for checkpoints)."""
        return {"pos": self.pos}

    def load_state_dict(self, state):
        self.pos = int(state["pos"])


class ShuffledBatches:
    """Minibatches of a data set of n items in a fresh random order every epoch.

    Each epoch draws a permutation of range(n) from the generator it is called with and
    serves ``n // batch_size`` consecutive slices of it (the remainder is dropped); a call
    returns ``take(idx, rng)``, the batch for the indices idx (e.g. the rows of the arrays).
    For `rnnlib.training.Trainer`, which calls it with its generator; the position in the
    epoch is checkpointed (``state_dict``).

    Inputs:
    - n: number of items; batch_size: items per batch (at most n).
    - take: function ``take(idx, rng) -> batch``.
    - sort: give each batch's indices in increasing order (faster gathers; same items).
    """

    def __init__(self, n, batch_size, take, sort=False):
        if not 0 < int(batch_size) <= int(n):
            raise ValueError(f"batch_size must be in [1, n = {n}], got {batch_size!r}")
        self.n, self.batch_size, self.take, self.sort = int(n), int(batch_size), take, sort
        self.order, self.next = None, 0

    def __len__(self):
        return self.n // self.batch_size

    def __call__(self, rng):
        if self.order is None or self.next == len(self):
            self.order, self.next = rng.permutation(self.n), 0
        b, bs = self.next, self.batch_size
        idx = self.order[b * bs:(b + 1) * bs]
        self.next += 1
        return self.take(np.sort(idx) if self.sort else idx, rng)

    def state_dict(self):
        """The epoch's order and the next batch in it (for checkpoints)."""
        return {"order": self.order, "next": self.next}

    def load_state_dict(self, state):
        self.order, self.next = state["order"], int(state["next"])
