"""Captioning on generated scenes: the whole pipeline, from pixels to BLEU-4 and attention maps.

    python -m experiments.captioning            # the full run (~7 min on 2 cores, ~4 if cached)
    python -m experiments.captioning --smoke    # tiny data, a few steps (the test suite's run)
    python -m experiments.captioning --cells attention --ds-lambda 0 --suffix _nopenalty
                                                # the attention model without the penalty

Steps:
1. Generate 10,000 training and 1,000 test scenes (rnnlib.scenes, seed 0).
2. Train the NumPy CNN encoder (rnnlib.encoder) on its auxiliary attribute task and cache the
   (D,) vectors and (D, P, P) grids of every image under the git-ignored cache/ folder (keyed
   by the data and encoder settings, so a rerun reuses them; the results record whether it did).
3. Train rnnlib.models.CaptioningRNN with the 'rnn', 'lstm', 'gru' and 'attention' cells
   (Adam, global-norm clipping; each minibatch uses one of an image's four captions at random).
   The attention model's loss adds Xu et al.'s doubly stochastic attention penalty
   (DoublyStochasticCaptioningRNN, weight captioner.ds_lambda); the training curves hold the
   caption loss alone.
4. Decode the test images greedily and with beam search; score corpus BLEU-4 with sacrebleu
   (tokenize='none': the captions are already space-separated words; all four captions of an
   image are the references; reported on a 0-1 scale) and the exact-match rate (the decoded
   caption equals one of the references).
5. For the attention model: the attention maps of a sample of test images, and for every
   generated word that names an object (a shape word, preceded by its colour), the attention
   mass on the grid cells the named object's mask touches, against the share of cells the
   region occupies (what uniform attention would give).

Writes results/captioning.json, results/captioning_attention.npz and
results/captioning_attention.png (layouts in results/README.md, section "Captioning").
"""

import argparse
import hashlib
import json
import os
import time

import numpy as np

from rnnlib import scenes
from rnnlib.cells import seq_backward, seq_forward
from rnnlib.data import ShuffledBatches
from rnnlib.encoder import SceneEncoder, attribute_accuracy, train_encoder
from rnnlib.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from rnnlib.models import CaptioningRNN
from rnnlib.results import finish_header, part_headers, resumable, run_header, write_json
from rnnlib.training import Callback, Trainer, linear_schedule

CELLS = ("rnn", "lstm", "gru", "attention")
SUPPORTS_RESUME = True

FULL = {
    "seed": 0,
    "n_train": 10000,
    "n_test": 1000,
    "image_size": 32,
    # Shape is learned last: its accuracy sits near chance for ~400 steps, then climbs.
    "encoder": {"stages": [[16, 1], [32, 2], [32, 2]], "feature_dim": 64, "epochs": 6,
                "batch_size": 64, "lr": 5e-3},
    # ds_lambda: weight of the doubly stochastic attention penalty (attention cell only).
    "captioner": {"wordvec_dim": 64, "hidden_dim": 128, "epochs": 10, "batch_size": 100,
                  "lr": 3e-3, "clip": 5.0, "dtype": "float32", "ds_lambda": 1.0},
    # The attention model, the one with targets, first: its result is the first to land.
    "cells": ["attention", "lstm", "gru", "rnn"],
    "beam_size": 5,
    "attention_samples": 16,
}

SMOKE = {
    "seed": 0,
    "n_train": 48,
    "n_test": 12,
    "image_size": 32,
    "encoder": {"stages": [[4, 1], [8, 2], [8, 2]], "feature_dim": 8, "epochs": 1,
                "batch_size": 16, "lr": 2e-3},
    "captioner": {"wordvec_dim": 8, "hidden_dim": 16, "epochs": 1, "batch_size": 16,
                  "lr": 3e-3, "clip": 5.0, "dtype": "float32", "ds_lambda": 1.0},
    "cells": ["attention", "lstm", "gru", "rnn"],
    "beam_size": 2,
    "attention_samples": 4,
}


def _key(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


class DoublyStochasticCaptioningRNN(CaptioningRNN):
    """The attention CaptioningRNN with Xu et al.'s (2015) doubly stochastic penalty.

    The loss adds ds_lambda * sum_p (1 - sum_t alpha_tp)^2 / N, summed over the P*P grid
    cells p and the caption's counted steps t (those whose target is not <NULL>): over a
    caption, every cell should receive about one unit of attention in total, which discourages
    reading the same cells at every word. rnnlib's attention functions return no gradient for
    the weights alpha, so the penalty's gradient is computed here: through the softmax to the
    scores prev_h . A / sqrt(H), then into A directly and into every prev_h, which is h_{t-1}
    (added to the upstream gradient of h_{t-1}) or, at t = 0, h0 = mean of A.

    Inputs: those of CaptioningRNN (cell_type must be 'attention'), and
    - ds_lambda: weight of the penalty (0 gives CaptioningRNN's loss).
    After every loss() call, last_caption_loss holds the loss without the penalty.
    """

    def __init__(self, *args, ds_lambda=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if self.cell_type != "attention":
            raise ValueError("the doubly stochastic penalty needs cell_type='attention'")
        self.ds_lambda = float(ds_lambda)
        self.last_caption_loss = None

    def loss(self, features, captions):
        """Caption loss plus the penalty, and the gradients of both (see CaptioningRNN.loss).

        Inputs:
        - features: (N, D, P, P) feature grids.
        - captions: int (N, T) captions.

        Returns (loss, grads) like CaptioningRNN.loss.
        """
        features = self._features(features)
        N = features.shape[0]
        captions = np.asarray(captions)
        if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
            raise ValueError(f"captions must have shape (N, T) with N = {N} and T >= 2, "
                             f"got {captions.shape}")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        p = self.params
        h0, _, A, _ = self._project(features)
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        h, _, rnn_cache = seq_forward("attention", x, h0, self._cell_params(), A=A)
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
        self.last_caption_loss = float(loss)

        # The attention weights of every step, from prev_h = h0, h_0, ..., h_{T-2}.
        _, H, P, _ = A.shape
        A_flat = A.reshape(N, H, P * P)
        prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)            # (N, T, H)
        s = np.einsum("nth,nhp->ntp", prev, A_flat) / H ** 0.5
        s -= s.max(axis=2, keepdims=True)
        alpha = np.exp(s)
        alpha /= alpha.sum(axis=2, keepdims=True)
        m = mask.astype(alpha.dtype)[:, :, None]
        gap = 1 - (alpha * m).sum(axis=1)                                   # (N, P*P)
        loss += self.ds_lambda * float((gap ** 2).sum()) / N
        dalpha = (-2 * self.ds_lambda / N) * gap[:, None, :] * m
        ds = alpha * (dalpha - (alpha * dalpha).sum(axis=2, keepdims=True))
        dprev = np.einsum("ntp,nhp->nth", ds, A_flat) / H ** 0.5
        dA_scores = np.einsum("ntp,nth->nhp", ds, prev).reshape(A.shape) / H ** 0.5

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dh = dh + np.concatenate([dprev[:, 1:], np.zeros_like(dprev[:, :1])], axis=1)
        cell_grads = seq_backward("attention", dh.astype(self.dtype, copy=False), rnn_cache)
        grads["W_embed"] = word_embedding_backward(cell_grads.pop("x"), embed_cache)
        dA = cell_grads.pop("A") + dA_scores + dprev[:, 0, :, None, None] / (P * P)
        grads["W_proj"] = np.einsum("ndpq,nhpq->dh", features, dA, optimize=True)
        grads["b_proj"] = dA.sum(axis=(0, 2, 3))
        grads.update(cell_grads)
        return loss, {k: v.astype(self.dtype, copy=False) for k, v in grads.items()}


def load_data(cfg):
    """Training and test scenes for cfg (generated; takes a few seconds for 11,000 scenes)."""
    kw = {"seed": cfg["seed"], "image_size": cfg["image_size"]}
    return (scenes.generate_scenes(cfg["n_train"], split="train", **kw),
            scenes.generate_scenes(cfg["n_test"], split="test", **kw))


def encoder_features(cfg, train, test, cache_dir, log=print):
    """Train the encoder (or load it from the cache) and return its features and a report.

    Returns a tuple of:
    - features: dict with 'train_vec' (N, D), 'train_grid' (N, D, P, P), 'test_vec',
      'test_grid' (float32).
    - report: dict with the encoder's settings, training time, losses and test accuracies.
    """
    ecfg = cfg["encoder"]
    key = _key({k: cfg[k] for k in ("seed", "n_train", "n_test", "image_size", "encoder")})
    path = os.path.join(cache_dir, f"captioning_features_{key}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            features = {k: z[k] for k in ("train_vec", "train_grid", "test_vec", "test_grid")}
            report = json.loads(str(z["report"]))
        report["cached"] = True
        log(f"encoder features loaded from {path}")
        return features, report
    enc = SceneEncoder(cfg["image_size"], ecfg["stages"], ecfg["feature_dim"],
                       seed=cfg["seed"])
    hist = train_encoder(enc, train, ecfg["epochs"], ecfg["batch_size"], ecfg["lr"],
                         seed=cfg["seed"], log=log)
    t0 = time.perf_counter()
    train_vec, train_grid = enc.encode(train["images"])
    test_vec, test_grid = enc.encode(test["images"])
    encode_s = time.perf_counter() - t0
    losses = hist["loss"]
    report = {
        "config": ecfg,
        "params": int(sum(p.size for p in enc.params.values())),
        "steps": hist["steps"],
        "train_time_s": hist["time_s"],
        "encode_time_s": encode_s,
        "first_loss": float(np.mean(losses[:10])),
        "final_loss": float(np.mean(losses[-max(1, len(losses) // 10):])),
        "first_losses": hist["first_losses"],
        "test_accuracy": attribute_accuracy(enc, test),
        "feature_vector_shape": list(train_vec.shape[1:]),
        "feature_grid_shape": list(train_grid.shape[1:]),
        "cached": False,
    }
    features = {"train_vec": train_vec, "train_grid": train_grid, "test_vec": test_vec,
                "test_grid": test_grid}
    os.makedirs(cache_dir, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, report=json.dumps(report), **features,
             **{f"param_{k}": v for k, v in enc.params.items()})
    os.replace(tmp, path)
    log(f"encoder: {hist['steps']} steps in {hist['time_s']:.0f} s, test accuracy "
        f"{report['test_accuracy']}")
    return features, report


class CaptionCurve(Callback):
    """The captioner's training curve: the mean caption loss over every 1/40 of the run.

    It holds the caption loss alone (the attention model's penalty left out), comparable
    across cells, and logs a line at the end of every epoch.
    """

    def __init__(self, total, epochs, log):
        self.total, self.epochs, self.log, self.window = total, epochs, log, []
        self.curve = {"step": [], "time_s": [], "train_loss": []}

    def on_step(self, trainer):
        caption_loss = getattr(trainer.model, "last_caption_loss", None)
        self.window.append(trainer.loss if caption_loss is None else caption_loss)
        if trainer.due(max(1, self.total // 40)):
            self.curve["step"].append(trainer.iteration)
            self.curve["time_s"].append(round(trainer.elapsed, 2))
            self.curve["train_loss"].append(float(np.mean(self.window)))
            self.window = []
        if self.log and trainer.epoch_end:
            last = self.curve["train_loss"][-1] if self.curve["train_loss"] else float("nan")
            self.log(f"  epoch {trainer.epoch}/{self.epochs}: loss {last:.3f} "
                     f"({trainer.elapsed:.0f} s)")


def train_captioner(model, feats, ids, ccfg, seed, log=print):
    """Train a CaptioningRNN with Adam and global-norm clipping (rnnlib.training.Trainer).

    Inputs:
    - model: a CaptioningRNN (params updated in place).
    - feats: (N, D) vectors or (N, D, P, P) grids, the model's input features.
    - ids: int (N, K, T) caption ids, K captions per image.
    - ccfg: the 'captioner' settings (epochs, batch_size, lr, clip).
    - seed: seed of the minibatch order and of the caption choice.

    Each minibatch uses one of an image's K captions at random; the learning rate decays
    linearly to a tenth over the run.

    Returns a dict: 'curve' ({'step', 'time_s', 'train_loss'}), 'steps', 'time_s' and
    'first_losses' (the first ten losses, for a replay).
    """
    n, k = ids.shape[:2]
    batches = ShuffledBatches(n, min(ccfg["batch_size"], n), take=lambda idx, rng: (
        feats[idx], ids[idx, rng.integers(0, k, size=len(idx))]))
    total = ccfg["epochs"] * len(batches)
    curve = CaptionCurve(total, ccfg["epochs"], log)
    trainer = Trainer(model, batches, num_steps=total, update_rule="adam",
                      optim_config={"learning_rate": ccfg["lr"]},
                      schedule=linear_schedule(ccfg["lr"], total), clip_norm=ccfg["clip"],
                      seed=seed, steps_per_epoch=len(batches), callbacks=[curve],
                      record_first=10).run()
    return {"curve": curve.curve, "steps": trainer.iteration, "time_s": trainer.elapsed,
            "first_losses": trainer.first_losses}


def corpus_bleu4(hypotheses, references):
    """Corpus BLEU-4 with sacrebleu on a 0-1 scale.

    Inputs:
    - hypotheses: list of n strings.
    - references: list of n lists of K strings (every image has K references).
    """
    import sacrebleu

    refs = [list(r) for r in zip(*references, strict=True)]
    return sacrebleu.corpus_bleu(hypotheses, refs, tokenize="none").score / 100.0


def score(hypotheses, references):
    """BLEU-4 (sacrebleu, tokenize='none', 0-1) and the exact-match rate."""
    exact = float(np.mean([h in set(r) for h, r in zip(hypotheses, references, strict=True)]))
    return {"bleu4": corpus_bleu4(hypotheses, references), "exact_match": exact}


def _greedy(model, feats, max_length, batch_size=250):
    """Greedy captions (N, T) and, for the attention cell, maps (N, T, P, P)."""
    caps, maps = [], []
    for i in range(0, len(feats), batch_size):
        out = model.sample(feats[i:i + batch_size], max_length=max_length)
        if isinstance(out, tuple):
            caps.append(out[0])
            maps.append(np.asarray(out[1]))
        else:
            caps.append(out)
    return np.concatenate(caps), (np.concatenate(maps) if maps else None)


def object_word_attention(caption_ids, maps, test, idx_to_word, grid):
    """Attention mass on the named object, for the words of every generated object mention.

    A mention is a generated "<size> <colour> <shape>" at steps t-2, t-1, t; it names the
    object of the scene with that colour and shape (unique within a scene by construction).
    The object's region is the set of grid cells its mask touches; the mass of a word is the
    sum over that region of the attention weights used to produce the word. Mentions whose
    colour-shape pair is not in the scene are counted as unmatched and left out.

    Inputs:
    - caption_ids: int (N, T), greedy captions (word t emitted at step t).
    - maps: (N, T, P, P) attention weights used at each step.
    - test: the test split's generate_scenes() dict.
    - idx_to_word: list of words.
    - grid: P.

    Returns a dict:
    - by_word: for 'size', 'colour', 'shape' and 'all' (the three pooled), the mean and
      median mass and the share of words with mass >= 0.5.
    - phrase_max: mean over mentions of the largest mass among the mention's three words.
    - mean_region_fraction: the mass uniform attention would give (mean share of cells).
    - mentions, unmatched: counts.
    - mean_mass, share_words_mass_at_least_half, words: the shape-word figures again under
      the names of the first layout (book chapter 8 reads them).
    """
    _, coverage = scenes.cell_targets(test["attributes"], test["masks"], grid)
    kinds = ("size", "colour", "shape")
    masses = {k: [] for k in kinds}
    phrase_max, fractions, unmatched = [], [], 0
    for n, row in enumerate(caption_ids):
        words = [idx_to_word[int(t)] for t in row]
        if "<END>" in words:
            words = words[:words.index("<END>")]
        for t, region in _mentions(words, n, test, coverage):
            if region is None:
                unmatched += 1
                continue
            mention = [float(maps[n, t - 2 + i][region].sum()) for i in range(3)]
            for kind, mass in zip(kinds, mention, strict=True):
                masses[kind].append(mass)
            phrase_max.append(max(mention))
            fractions.append(float(region.mean()))
    masses["all"] = masses["size"] + masses["colour"] + masses["shape"]
    by_word = {k: _mass_stats(v) for k, v in masses.items()}
    return {
        "mean_mass": by_word["shape"]["mean_mass"],
        "share_words_mass_at_least_half": by_word["shape"]["share_at_least_half"],
        "words": len(masses["shape"]),
        "by_word": by_word,
        "phrase_max": float(np.mean(phrase_max)) if phrase_max else None,
        "mean_region_fraction": float(np.mean(fractions)) if fractions else None,
        "mentions": len(phrase_max),
        "unmatched": unmatched,
    }


def _mentions(words, n, test, coverage):
    """The object mentions of caption `words` of test image n: (t, region) per shape word
    at t >= 2, region the bool (P, P) cells of the object it names, None if none matches."""
    for t, w in enumerate(words):
        if w not in scenes.SHAPES or t < 2:
            continue
        colour = words[t - 1]
        match = [j for j in range(test["num_objects"][n])
                 if scenes.SHAPES[test["attributes"][n, j, 0]] == w
                 and scenes.COLOUR_NAMES[test["attributes"][n, j, 1]] == colour]
        yield t, (coverage[n, match[0]] > 0 if len(match) == 1 else None)


def _mass_stats(v):
    """Mean and median attention mass of a list, and the share at least 0.5 (None if empty)."""
    if not v:
        return {"mean_mass": None, "median_mass": None, "share_at_least_half": None}
    v = np.asarray(v)
    return {"mean_mass": float(v.mean()), "median_mass": float(np.median(v)),
            "share_at_least_half": float(np.mean(v >= 0.5))}


def draw_attention(npz_path, png_path, rows=4):
    """Draw the saved attention maps: one row per image, one panel per generated word."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with np.load(npz_path) as z:
        images, maps, words = z["images"], z["maps"].astype(np.float32), z["words"]
    rows = min(rows, len(images))
    cols = 1 + max(int(np.sum(w != "")) for w in words[:rows])
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows), squeeze=False)
    size = images.shape[1]
    for r in range(rows):
        axes[r, 0].imshow(images[r])
        axes[r, 0].set_title("image", fontsize=7)
        for c in range(1, cols):
            ax = axes[r, c]
            t = c - 1
            if t < len(words[r]) and words[r][t] != "":
                ax.imshow(images[r])
                # Nearest-neighbour upsampling keeps the grid cells visible.
                up = np.kron(maps[r, t], np.ones((size // maps.shape[-1],) * 2))
                ax.imshow(up, cmap="magma", alpha=0.6, vmin=0, vmax=max(1e-6, up.max()))
                ax.set_title(str(words[r][t]), fontsize=7)
        for ax in axes[r]:
            ax.axis("off")
    fig.tight_layout(pad=0.2)
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def save_attention(results_dir, suffix, caption_ids, maps, test, k, idx_to_word):
    """Save the first k test images' greedy captions and attention maps (npz), and draw them."""
    k = min(k, len(caption_ids))
    words = np.array([[idx_to_word[int(t)] for t in row] for row in caption_ids[:k]])
    # Blank everything after <END> so the figure shows only the caption.
    for row in words:
        ends = np.nonzero(row == "<END>")[0]
        if ends.size:
            row[ends[0] + 1:] = ""
    os.makedirs(results_dir, exist_ok=True)
    npz = os.path.join(results_dir, f"captioning_attention{suffix}.npz")
    np.savez_compressed(npz, images=test["images"][:k], maps=maps[:k].astype(np.float16),
                        words=words, boxes=test["boxes"][:k], attributes=test["attributes"][:k],
                        references=np.array(test["captions"][:k]))
    draw_attention(npz, os.path.join(results_dir, f"captioning_attention{suffix}.png"))


def prepare(cfg, cache_dir, log=print):
    """Scenes, vocabulary, caption ids and encoder features for cfg.

    Returns (data, data_report, features, encoder_report): data holds 'train', 'test',
    'word_to_idx', 'idx_to_word', 'max_words' and 'train_ids' (N, K, T).
    """
    t_start = time.perf_counter()
    train, test = load_data(cfg)
    word_to_idx, idx_to_word = scenes.build_vocab()
    max_words = scenes.max_caption_length()
    data = {"train": train, "test": test, "word_to_idx": word_to_idx,
            "idx_to_word": idx_to_word, "max_words": max_words,
            "train_ids": scenes.encode_captions(train["captions"], word_to_idx, max_words)}
    report = {
        "generator": "rnnlib.scenes", "n_train": cfg["n_train"], "n_test": cfg["n_test"],
        "captions_per_image": scenes.NUM_TEMPLATES, "vocab_size": len(idx_to_word),
        "max_caption_words": max_words, "generate_time_s": time.perf_counter() - t_start,
        "objects_per_image": np.bincount(test["num_objects"], minlength=4)[1:].tolist(),
    }
    log(f"data: {cfg['n_train']} train, {cfg['n_test']} test scenes")
    features, encoder_report = encoder_features(cfg, train, test, cache_dir, log)
    return data, report, features, encoder_report


def make_captioner(cell, cfg, input_dim, word_to_idx):
    """The CaptioningRNN of one cell (the attention one with the penalty, if its weight is set)."""
    ccfg = cfg["captioner"]
    kwargs = {"input_dim": input_dim, "wordvec_dim": ccfg["wordvec_dim"],
              "hidden_dim": ccfg["hidden_dim"], "cell_type": cell,
              "dtype": np.dtype(ccfg["dtype"]).type,
              "seed": cfg["seed"] * 100 + CELLS.index(cell)}
    if cell == "attention" and ccfg.get("ds_lambda"):
        return DoublyStochasticCaptioningRNN(word_to_idx, ds_lambda=ccfg["ds_lambda"], **kwargs)
    return CaptioningRNN(word_to_idx, **kwargs)


def decode_and_score(model, feats, data, beam_size):
    """Greedy and beam captions of feats, scored against the test references.

    Returns (entry, greedy_ids, maps): entry holds 'greedy', 'beam' (scores and decoding
    times) and 'examples'; maps are the greedy attention maps (or None).
    """
    refs, words, T = data["test"]["captions"], data["idx_to_word"], data["max_words"] + 1
    t0 = time.perf_counter()
    greedy_ids, maps = _greedy(model, feats, T)
    greedy = scenes.decode_captions(greedy_ids, words)
    greedy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    beam = scenes.decode_captions(model.beam_search(feats, beam_size=beam_size, max_length=T),
                                  words)
    beam_s = time.perf_counter() - t0
    entry = {
        "greedy": score(greedy, refs) | {"decode_time_s": greedy_s},
        "beam": score(beam, refs) | {"decode_time_s": beam_s, "beam_size": beam_size},
        "examples": [{"references": refs[i], "greedy": greedy[i], "beam": beam[i]}
                     for i in range(min(5, len(greedy)))],
    }
    return entry, greedy_ids, maps


def train_cell(cell, cfg, data, features, results_dir, suffix, log=print):
    """Train, decode and score one cell's captioner; returns its results entry."""
    key = "grid" if cell == "attention" else "vec"
    dtype = np.dtype(cfg["captioner"]["dtype"]).type
    tr, te = features[f"train_{key}"].astype(dtype), features[f"test_{key}"].astype(dtype)
    model = make_captioner(cell, cfg, tr.shape[1], data["word_to_idx"])
    log(f"captioner {cell}: {sum(p.size for p in model.params.values())} params")
    hist = train_captioner(model, tr, data["train_ids"], cfg["captioner"], seed=cfg["seed"],
                           log=log)
    scored, greedy_ids, maps = decode_and_score(model, te, data, cfg["beam_size"])
    entry = {"params": int(sum(p.size for p in model.params.values())),
             "input": f"{key} {list(tr.shape[1:])}", "steps": hist["steps"],
             "train_time_s": hist["time_s"], "curve": hist["curve"],
             "first_losses": hist["first_losses"], **scored}
    log(f"  {cell}: greedy BLEU-4 {entry['greedy']['bleu4']:.3f} exact "
        f"{entry['greedy']['exact_match']:.3f}; beam BLEU-4 {entry['beam']['bleu4']:.3f} "
        f"exact {entry['beam']['exact_match']:.3f}")
    if cell == "attention" and maps is not None:
        entry["attention"] = object_word_attention(greedy_ids, maps, data["test"],
                                                   data["idx_to_word"], te.shape[-1])
        log(f"  attention mass on named objects: {entry['attention']}")
        save_attention(results_dir, suffix, greedy_ids, maps, data["test"],
                       cfg["attention_samples"], data["idx_to_word"])
    return entry


def run(cfg, results_dir="results", cache_dir="cache", suffix="", log=print, resume=False):
    """Run the pipeline for a config (FULL or SMOKE) and write the results files.

    The JSON is rewritten after every cell (`complete` false and `partial` true until the
    last); with resume=True the cells a partial file with the same config holds are kept.
    """
    result = run_header("captioning/1", cfg["seed"])
    json_path = os.path.join(results_dir, f"captioning{suffix}.json")
    earlier = resumable(json_path, cfg) if resume else None
    t_start, cpu_start = time.perf_counter(), time.process_time()
    data, result["data"], features, result["encoder"] = prepare(cfg, cache_dir, log)
    result.update({"config": cfg, "cells": dict(earlier["cells"]) if earlier else {},
                   "order": [c for c in CELLS if c in cfg["cells"]], "complete": False})
    for cell in cfg["cells"]:
        if cell in result["cells"]:
            log(f"captioner {cell}: kept from the interrupted run in {json_path}")
            continue
        result["cells"][cell] = train_cell(cell, cfg, data, features, results_dir, suffix, log)
        # Write after every cell, so a run cut short still leaves its finished cells.
        result["total_time_s"] = time.perf_counter() - t_start
        result["total_cpu_s"] = time.process_time() - cpu_start
        write_json(json_path, finish_header({**result, "partial": True}))
    result["total_time_s"] = time.perf_counter() - t_start
    result["total_cpu_s"] = time.process_time() - cpu_start
    result["complete"] = True
    result["openblas_num_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")
    finish_header(result)
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    write_json(json_path, result)
    log(f"done in {result['total_time_s']:.0f} s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, a few steps")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--cells", nargs="+", choices=CELLS, help="subset of the cells")
    parser.add_argument("--ds-lambda", type=float, default=None,
                        help="weight of the attention model's doubly stochastic penalty "
                             "(default: the config's; 0 trains it on the caption loss alone)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished cells of an interrupted run with the same "
                             "settings and train the rest")
    parser.add_argument("--suffix", default=None,
                        help="appended to the results file names (default '' for the full run, "
                             "'_smoke' for --smoke)")
    args = parser.parse_args(argv)
    cfg = json.loads(json.dumps(SMOKE if args.smoke else FULL))
    if args.cells:
        cfg["cells"] = args.cells
    if args.ds_lambda is not None:
        cfg["captioner"]["ds_lambda"] = args.ds_lambda
    suffix = args.suffix if args.suffix is not None else ("_smoke" if args.smoke else "")
    return run(cfg, args.results_dir, args.cache_dir, suffix, resume=args.resume)


if __name__ == "__main__":
    main()
