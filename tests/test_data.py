"""rnnlib.data: the corpus file, the character vocabulary, the split, BPTT batching."""

import hashlib

import numpy as np
import pytest

from rnnlib.data import (
    BPTTBatcher,
    CharVocab,
    load_tinyshakespeare,
    tinyshakespeare_path,
    train_val_split,
)

SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_corpus_hash_and_size():
    raw = tinyshakespeare_path().read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256
    text = load_tinyshakespeare()
    assert len(text) == 1_115_394
    assert len(CharVocab(text)) == 65
    assert text.startswith("First Citizen:")


def test_vocab_round_trip_and_order():
    vocab = CharVocab("hello")
    assert vocab.chars == ["e", "h", "l", "o"]
    assert vocab.size == len(vocab) == 4
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [1, 0, 2, 2, 3])
    assert vocab.decode(ids) == "hello"
    assert vocab.decode([3, 2]) == "ol"
    assert vocab.encode("").shape == (0,)
    assert vocab.decode([]) == ""


def test_vocab_round_trip_on_corpus_sample():
    text = load_tinyshakespeare()[:5000]
    vocab = CharVocab(text)
    assert vocab.decode(vocab.encode(text)) == text


def test_unknown_character_names_character_and_position():
    vocab = CharVocab("hello")
    with pytest.raises(ValueError, match=r"'z' at position 3"):
        vocab.encode("helz")


def test_decode_out_of_range():
    vocab = CharVocab("hello")
    with pytest.raises(ValueError, match=r"ids\[1\] = 4"):
        vocab.decode([0, 4])
    with pytest.raises(ValueError, match="ids"):
        vocab.decode([[0, 1]])
    with pytest.raises(ValueError, match="text"):
        CharVocab("")


def test_train_val_split_contiguous():
    text = "abcdefghij"
    train, val = train_val_split(text)
    assert (train, val) == ("abcdefghi", "j")
    train, val = train_val_split(np.arange(100), frac=0.75)
    np.testing.assert_array_equal(train, np.arange(75))
    np.testing.assert_array_equal(val, np.arange(75, 100))
    with pytest.raises(ValueError, match="frac"):
        train_val_split(text, frac=1.0)


def test_corpus_split_sizes():
    text = load_tinyshakespeare()
    train, val = train_val_split(text)
    assert len(train) == 1_003_854 and len(train) + len(val) == len(text)


def test_bptt_streams_are_contiguous_across_chunks():
    ids = np.arange(103)
    b = BPTTBatcher(ids, batch_size=4, seq_len=6)
    # L = (103 - 1) // 4 = 25 steps per stream, 25 // 6 = 4 chunks.
    assert b.stream_len == 25 and len(b) == 4
    chunks = list(b)
    assert len(chunks) == 4
    x = np.concatenate([c[0] for c in chunks], axis=1)
    y = np.concatenate([c[1] for c in chunks], axis=1)
    assert x.shape == (4, 24) and x.dtype == np.int64
    for n in range(4):
        # row n is one contiguous stream of the corpus; targets are inputs shifted by one
        np.testing.assert_array_equal(x[n], np.arange(n * 25, n * 25 + 24))
        np.testing.assert_array_equal(y[n], x[n] + 1)
    # chunk k+1 starts where chunk k ended, in every row
    for (_, y0), (x1, _) in zip(chunks, chunks[1:], strict=False):
        np.testing.assert_array_equal(x1[:, 0], y0[:, -1])


def test_bptt_covers_the_corpus_once_per_epoch():
    ids = np.random.default_rng(0).integers(0, 50, size=1001)
    b = BPTTBatcher(ids, batch_size=5, seq_len=10)
    seen = np.sort(np.concatenate([x.ravel() for x, _ in b]))
    assert seen.size == 1000  # L = 200 = 20 chunks of 10: nothing dropped
    np.testing.assert_array_equal(seen, np.sort(ids[:1000]))


def test_bptt_next_batch_epochs():
    b = BPTTBatcher(np.arange(41), batch_size=2, seq_len=5)  # L = 20, 4 chunks
    flags = []
    first = None
    for i in range(9):
        x, y, new_epoch = b.next_batch()
        flags.append(new_epoch)
        if i == 0:
            first = x
        if i == 4:
            np.testing.assert_array_equal(x, first)  # the epoch starts over
    assert flags == [True, False, False, False, True, False, False, False, True]
    assert b.epoch == 2
    state = b.state_dict()
    b2 = BPTTBatcher(np.arange(41), batch_size=2, seq_len=5)
    b2.load_state_dict(state)
    np.testing.assert_array_equal(b2.next_batch()[0], b.next_batch()[0])


def test_bptt_sample_batch_resets_state_at_epoch_start():
    b = BPTTBatcher(np.arange(21), batch_size=2, seq_len=5)  # 2 chunks
    batches = [b.sample_batch() for _ in range(3)]
    assert "h0" in batches[0] and batches[0]["h0"] is None
    assert "h0" not in batches[1]
    assert "h0" in batches[2]


def test_bptt_bad_input():
    with pytest.raises(ValueError, match="too short"):
        BPTTBatcher(np.arange(10), batch_size=2, seq_len=5)
    with pytest.raises(ValueError, match="ids"):
        BPTTBatcher(np.zeros((3, 40), dtype=int), batch_size=2, seq_len=5)
    with pytest.raises(ValueError, match="ids"):
        BPTTBatcher(np.zeros(40), batch_size=2, seq_len=5)
    with pytest.raises(ValueError, match="batch_size"):
        BPTTBatcher(np.arange(40), batch_size=0, seq_len=5)
