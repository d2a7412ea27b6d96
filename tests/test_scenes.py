"""The scene generator: determinism, consistency of images, masks and captions, vocabulary."""

import numpy as np
import pytest

from rnnlib import scenes


@pytest.fixture(scope="module")
def data():
    return scenes.generate_scenes(200, seed=7, split="train")


def test_deterministic_and_independent_of_count(data):
    again = scenes.generate_scenes(50, seed=7, split="train")
    assert np.array_equal(again["images"], data["images"][:50])
    assert again["captions"] == data["captions"][:50]
    other_seed = scenes.generate_scenes(50, seed=8, split="train")
    assert not np.array_equal(other_seed["images"], again["images"])
    test_split = scenes.generate_scenes(50, seed=7, split="test")
    assert not np.array_equal(test_split["images"], again["images"])


def test_shapes_and_dtypes(data):
    assert data["images"].shape == (200, 32, 32, 3) and data["images"].dtype == np.uint8
    assert data["masks"].shape == (200, 3, 32, 32) and data["masks"].dtype == bool
    assert data["attributes"].shape == (200, 3, 3) and data["boxes"].shape == (200, 3, 4)
    assert len(data["captions"]) == 200
    assert all(len(c) == scenes.NUM_TEMPLATES for c in data["captions"])
    assert set(np.unique(data["num_objects"])) == {1, 2, 3}


def test_objects_are_separate_ordered_and_distinct(data):
    for i in range(200):
        k = data["num_objects"][i]
        assert np.all(data["attributes"][i, k:] == -1) and not data["masks"][i, k:].any()
        masks = data["masks"][i, :k]
        assert masks.any(axis=(1, 2)).all()
        # No pixel belongs to two objects.
        assert masks.sum(axis=0).max() == 1
        pairs = {tuple(a[:2]) for a in data["attributes"][i, :k]}
        assert len(pairs) == k
        centres = [np.nonzero(m)[1].mean() for m in masks]
        assert centres == sorted(centres)
        for j in range(k):
            x0, y0, x1, y1 = data["boxes"][i, j]
            ys, xs = np.nonzero(masks[j])
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)


def test_object_pixels_have_their_colour(data):
    for i in range(20):
        for j in range(data["num_objects"][i]):
            colour = scenes.COLOUR_NAMES[data["attributes"][i, j, 1]]
            mean = data["images"][i][data["masks"][i, j]].mean(axis=0)
            assert np.abs(mean - np.array(scenes.COLOURS[colour])).max() < 25
        background = ~data["masks"][i].any(axis=0)
        assert data["images"][i][background].mean() < 50


def test_captions_describe_the_objects(data):
    for i in range(200):
        k = data["num_objects"][i]
        phrases = [f"a {scenes.SIZE_NAMES[a[2]]} {scenes.COLOUR_NAMES[a[1]]} {scenes.SHAPES[a[0]]}"
                   for a in data["attributes"][i, :k]]
        caps = data["captions"][i]
        assert caps[0] == " left of ".join(phrases)
        assert caps[1] == (" right of ".join(phrases[::-1]) if k > 1 else "only " + phrases[0])
        assert caps[2] == "there is " + " and ".join(phrases)
        assert caps[3] == "the image shows " + caps[0]
        assert len(set(caps)) == 4


def test_vocabulary_covers_every_caption_and_round_trips(data):
    word_to_idx, idx_to_word = scenes.build_vocab()
    assert [word_to_idx[w] for w in ("<NULL>", "<START>", "<END>", "<UNK>")] == [0, 1, 2, 3]
    words = {w for caps in data["captions"] for c in caps for w in c.split()}
    assert words <= set(word_to_idx)
    ids = scenes.encode_captions(data["captions"], word_to_idx)
    longest = max(len(c.split()) for caps in data["captions"] for c in caps)
    assert longest <= scenes.max_caption_length()
    assert ids.shape == (200, 4, scenes.max_caption_length() + 2)
    assert not np.any(ids == word_to_idx["<UNK>"])
    assert np.all(ids[:, :, 0] == word_to_idx["<START>"])
    flat = ids.reshape(-1, ids.shape[-1])
    decoded = scenes.decode_captions(flat, idx_to_word)
    assert decoded == [c for caps in data["captions"] for c in caps]
    assert scenes.encode_captions([["a zebra"]], word_to_idx, 3)[0, 0].tolist() == [1, 4, 3, 2, 0]


def test_cell_targets(data):
    labels, coverage = scenes.cell_targets(data["attributes"], data["masks"], 8)
    assert labels.shape == (200, 3, 8, 8) and coverage.shape == (200, 3, 8, 8)
    assert np.allclose(coverage.sum(axis=(2, 3)) * 16, data["masks"].sum(axis=(2, 3)))
    # Every object owns at least one cell of the 8x8 grid, with its own shape label.
    for i in range(50):
        for j in range(data["num_objects"][i]):
            cells = labels[i, 0][coverage[i, j] >= 0.5]
            assert cells.size and np.all(cells == data["attributes"][i, j, 0] + 1)
    with pytest.raises(ValueError, match="multiple"):
        scenes.cell_targets(data["attributes"], data["masks"], 5)


def test_bad_split_raises():
    with pytest.raises(ValueError, match="split"):
        scenes.generate_scenes(1, split="dev")


def test_generate_scenes_by_index_draws_the_same_scenes():
    full = scenes.generate_scenes(6, seed=3, split="train", image_size=16)
    some = scenes.generate_scenes(0, seed=3, split="train", image_size=16, indices=[4, 1])
    assert np.array_equal(some["images"], full["images"][[4, 1]])
    assert some["captions"] == [full["captions"][4], full["captions"][1]]
