"""The captioning pipeline: encoder gradients, scoring, attention mass, and a smoke run."""

import json

import numpy as np
import pytest

from experiments import captioning
from rnnlib import encoder, scenes


def test_encoder_gradients_match_numerical():
    data = scenes.generate_scenes(2, seed=1)
    enc = encoder.SceneEncoder(stages=((2, 1), (3, 2), (3, 2)), feature_dim=3, dtype=np.float64,
                               seed=2)
    rng = np.random.default_rng(0)
    for k in enc.params:
        enc.params[k] = enc.params[k] + rng.normal(size=enc.params[k].shape) * 0.05
    cells, slots = encoder.auxiliary_labels(data, 8)
    _, grads = enc.loss(data["images"], cells, slots)
    # Weights only: nudging a bias moves every unit of its channel at once, so with thousands
    # of ReLU units one of them crosses its kink within h = 1e-5 and spoils the difference
    # quotient. The biases come out of the same backward calls as the weights, and those
    # calls are gradient-checked unit by unit in test_conv.py.
    for name in ("conv0_w", "conv1_w", "conv2_w", "res_w1", "res_w2", "proj_w", "fc_w",
                 "cell_w", "slot_w"):
        p = enc.params[name]
        flat = p.reshape(-1)
        # Random entries, plus the largest ones so that dead ReLU units cannot make every
        # pick a trivial 0 == 0.
        largest = np.argsort(-np.abs(grads[name].reshape(-1)))[:3]
        picks = np.union1d(rng.choice(flat.size, size=min(flat.size, 4), replace=False), largest)
        num, ana = [], []
        for i in picks:
            old = flat[i]
            flat[i] = old + 1e-5
            plus = enc.loss(data["images"], cells, slots)[0]
            flat[i] = old - 1e-5
            minus = enc.loss(data["images"], cells, slots)[0]
            flat[i] = old
            num.append((plus - minus) / 2e-5)
            ana.append(grads[name].reshape(-1)[i])
        num, ana = np.array(num), np.array(ana)
        # A norm-wise relative error: single tiny entries are dominated by rounding of the loss.
        assert np.linalg.norm(num - ana) / np.linalg.norm(num + ana) < 1e-6, name


def test_encoder_learns_and_encodes_shapes():
    data = scenes.generate_scenes(32, seed=3)
    enc = encoder.SceneEncoder(stages=((4, 1), (8, 2), (8, 2)), feature_dim=8, seed=0)
    hist = encoder.train_encoder(enc, data, epochs=15, batch_size=16, lr=1e-2, log=None)
    assert np.mean(hist["loss"][-2:]) < 0.8 * np.mean(hist["loss"][:2])
    vec, grid = enc.encode(data["images"], batch_size=10)
    assert vec.shape == (32, 8) and grid.shape == (32, 8, 8, 8)
    assert vec.dtype == np.float32 and grid.dtype == np.float32
    acc = encoder.attribute_accuracy(enc, data)
    assert 0 <= acc["cell"] <= 1 and 0 <= acc["slot"] <= 1


def test_scores():
    refs = [["a small red circle", "only a small red circle"],
            ["a large blue square left of a small red circle",
             "a small red circle right of a large blue square"]]
    perfect = captioning.score([r[0] for r in refs], refs)
    assert perfect == {"bleu4": pytest.approx(1.0), "exact_match": 1.0}
    wrong = captioning.score(["a small red circle", "a large blue square left of a red circle"],
                             refs)
    assert wrong["exact_match"] == 0.5 and 0 < wrong["bleu4"] < 1


def test_object_word_attention_measures_mass_on_the_named_object():
    test = scenes.generate_scenes(6, seed=5, split="test")
    word_to_idx, idx_to_word = scenes.build_vocab()
    ids = scenes.encode_captions(test["captions"], word_to_idx)[:, 0, 1:]   # drop <START>
    _, coverage = scenes.cell_targets(test["attributes"], test["masks"], 8)
    T = ids.shape[1]
    on_object = np.zeros((6, T, 8, 8))
    for n in range(6):
        k = 0
        for t in range(T):
            if idx_to_word[ids[n, t]] in scenes.SHAPES:
                region = coverage[n, k] > 0
                # Only the colour word looks at the object; size and shape look elsewhere.
                on_object[n, t - 1][region] = 1 / region.sum()
                on_object[n, t][~region] = 1 / (~region).sum()
                k += 1
    stats = captioning.object_word_attention(ids, on_object, test, idx_to_word, 8)
    assert stats["mentions"] == int(test["num_objects"].sum()) and stats["unmatched"] == 0
    assert stats["by_word"]["colour"]["mean_mass"] == pytest.approx(1.0)
    assert stats["by_word"]["shape"]["mean_mass"] == pytest.approx(0.0)
    assert stats["mean_mass"] == stats["by_word"]["shape"]["mean_mass"]
    assert stats["words"] == stats["mentions"]
    assert stats["by_word"]["colour"]["share_at_least_half"] == 1.0
    assert stats["by_word"]["all"]["mean_mass"] == pytest.approx(1 / 3)
    assert stats["phrase_max"] == pytest.approx(1.0)
    uniform = np.full((6, T, 8, 8), 1 / 64)
    stats = captioning.object_word_attention(ids, uniform, test, idx_to_word, 8)
    for kind in ("size", "colour", "shape", "all"):
        assert stats["by_word"][kind]["mean_mass"] == pytest.approx(
            stats["mean_region_fraction"])
    assert stats["mean_region_fraction"] < 0.3
    # A colour-shape pair that is not in the scene is not credited.
    wrong = ids.copy()
    for n in range(6):
        t = next(t for t in range(T) if idx_to_word[wrong[n, t]] in scenes.SHAPES)
        present = {scenes.SHAPES[a] for a in test["attributes"][n, :, 0] if a >= 0}
        missing = next(s for s in scenes.SHAPES if s not in present)
        wrong[n, t] = word_to_idx[missing]
    stats = captioning.object_word_attention(wrong, on_object, test, idx_to_word, 8)
    assert stats["unmatched"] == 6
    assert stats["mentions"] == int(test["num_objects"].sum()) - 6


def test_smoke_run(tmp_path):
    out = captioning.main(["--smoke", "--results-dir", str(tmp_path), "--cache-dir",
                           str(tmp_path / "cache")])
    with open(tmp_path / "captioning_smoke.json") as f:
        saved = json.load(f)
    assert saved["schema"] == "captioning/2" and saved["encoder"]["source"] == "trained"
    assert set(saved["cells"]) == set(captioning.CELLS)
    for cell in captioning.CELLS:
        (run,) = saved["cells"][cell]["runs"]
        for dec in ("greedy", "beam"):
            assert 0 <= run[dec]["bleu4"] <= 1
            assert 0 <= run[dec]["exact_match"] <= 1
    assert "attention" in saved["cells"]["attention"]["runs"][0]
    assert saved["attention_file"]["file"] == "captioning_attention_smoke.npz"
    assert saved["encoder"]["file"] == "captioning_encoder_smoke.npz"
    assert out["data"]["n_train"] == captioning.SMOKE["n_train"]
    # The first steps replay from the stored encoder, bit for bit.
    checks = captioning.replay(saved, str(tmp_path))
    assert len(checks) == 2 + len(captioning.CELLS) and all(a == b for _, a, b in checks)
    # The second run reuses the stored encoder and the cached features.
    again = captioning.main(["--smoke", "--cells", "rnn", "--results-dir", str(tmp_path),
                             "--cache-dir", str(tmp_path / "cache")])
    assert again["encoder"]["source"] == "stored, features cached"


def test_smoke_run_resumes_after_the_finished_cells(tmp_path):
    args = ["--smoke", "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache")]
    captioning.main([*args, "--cells", "rnn", "lstm"])
    path = tmp_path / "captioning_smoke.json"
    saved = json.loads(path.read_text())
    (rnn,) = saved["cells"]["rnn"]["runs"]
    assert len(rnn["first_losses"]) == min(captioning.CAPTIONER_RECORD, rnn["steps"])
    # As if interrupted after the first cell.
    cut = {**saved, "complete": False, "partial": True, "cells": {"rnn": saved["cells"]["rnn"]}}
    path.write_text(json.dumps(cut))
    again = captioning.main([*args, "--cells", "rnn", "lstm", "--resume"])
    assert again["cells"]["rnn"] == saved["cells"]["rnn"] and again["complete"]
    assert again["cells"]["lstm"]["runs"][0]["first_losses"] == (
        saved["cells"]["lstm"]["runs"][0]["first_losses"])
    assert len(again["parts"]) == 2 and "partial" not in json.loads(path.read_text())
