"""Captioning on generated scenes: the whole pipeline, from pixels to BLEU-4 and attention maps.

    python -m experiments.captioning            # the full run: results/captioning.json
    python -m experiments.captioning --smoke    # tiny data, a few steps (the test suite's run)
    python -m experiments.captioning --cells attention --ds-lambda 0 --suffix _nopenalty
                                                # the attention model without the penalty

Steps:
1. Generate 10,000 training and 1,000 test scenes (rnnlib.scenes, seed 0).
2. Train the NumPy CNN encoder (rnnlib.encoder) on its auxiliary attribute task, round its
   weights to float16 and store them in results/captioning_encoder.npz (the replay test
   computes features from them), then compute the (D,) vectors and (D, P, P) grids of every
   image with the rounded weights. The features are cached under the git-ignored cache/
   folder (keyed by the data and encoder settings, so a rerun reuses them; the results record
   whether it did); a run whose settings match the stored encoder uses it instead of
   training one (the no-penalty run reuses the main run's encoder this way).
3. Train rnnlib.models.CaptioningRNN with the 'rnn', 'lstm', 'gru' and 'attention' cells,
   once per captioner seed (Adam, global-norm clipping; each minibatch uses one of an image's
   four captions at random; the seed sets the weights, the batch order and the choices).
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

Writes results/captioning.json, results/captioning_encoder.npz and
results/captioning_attention.npz (the maps of the first seed's attention model; layouts in
results/README.md, section "Captioning").
"""

import argparse
import hashlib
import json
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

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
from rnnlib.provenance import file_digest, finish_header
from rnnlib.results import (
    part_headers,
    resumable,
    run_header,
    write_json,
)
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
    # One captioner seed keeps `make results` within its budget on a shared 2-core machine
    # (three take about 40 minutes there); `--seeds 0 1 2` runs three.
    "seeds": [0],
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
    "seeds": [0],
    "beam_size": 2,
    "attention_samples": 4,
}
# The stored encoder (float16 weights) and the captioner's replay record.
ENCODER_FILE = "captioning_encoder{suffix}.npz"
CAPTIONER_RECORD = 3


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


def encoder_key(cfg):
    """The key of the encoder settings: the same key, the same trained encoder."""
    return _key({"stored": "float16",
                 **{k: cfg[k] for k in ("seed", "n_train", "n_test", "image_size", "encoder")}})


def make_encoder(cfg):
    ecfg = cfg["encoder"]
    return SceneEncoder(cfg["image_size"], ecfg["stages"], ecfg["feature_dim"], seed=cfg["seed"])


def load_stored_encoder(path, key):
    """The stored encoder in `path` (float16 weights, as float32) and its report, or None
    when the file is missing or was made with other settings."""
    if not os.path.exists(path):
        return None
    with np.load(path) as z:
        if str(z["key"]) != key:
            return None
        params = {k[len("param_"):]: z[k].astype(np.float32) for k in z.files
                  if k.startswith("param_")}
        return params, json.loads(str(z["report"]))


def train_stored_encoder(cfg, train, test, path, log=print):
    """Train the encoder, round its weights to float16, store them in `path`; returns
    (encoder, report). The features are computed from the rounded weights, so the stored
    file reproduces them exactly."""
    ecfg = cfg["encoder"]
    enc = make_encoder(cfg)
    hist = train_encoder(enc, train, ecfg["epochs"], ecfg["batch_size"], ecfg["lr"],
                         seed=cfg["seed"], log=log)
    for k, v in enc.params.items():
        enc.params[k] = v.astype(np.float16).astype(v.dtype)
    losses = hist["loss"]
    report = {
        "config": ecfg,
        "params": int(sum(p.size for p in enc.params.values())),
        "steps": hist["steps"],
        "train_time_s": hist["time_s"],
        "first_loss": float(np.mean(losses[:10])),
        "final_loss": float(np.mean(losses[-max(1, len(losses) // 10):])),
        "first_losses": hist["first_losses"],
        "test_accuracy": attribute_accuracy(enc, test),
    }
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, key=encoder_key(cfg), report=json.dumps(report),
                        **{f"param_{k}": v.astype(np.float16) for k, v in enc.params.items()})
    os.replace(tmp, path)
    log(f"encoder: {hist['steps']} steps in {hist['time_s']:.0f} s, test accuracy "
        f"{report['test_accuracy']}; stored in {path}")
    return enc, report


def encoder_features(cfg, train, test, cache_dir, encoder_path, log=print):
    """The stored encoder's features of every image, and the encoder's report.

    The encoder comes from `encoder_path` when it holds one with these settings, else it is
    trained and stored there. The features are cached in cache_dir (keyed by the settings).

    Returns a tuple of:
    - features: dict with 'train_vec' (N, D), 'train_grid' (N, D, P, P), 'test_vec',
      'test_grid' (float32).
    - report: dict with the encoder's settings, training time, losses, test accuracies, the
      stored file's name and digest, and how the features were obtained ('source').
    """
    key = encoder_key(cfg)
    stored = load_stored_encoder(encoder_path, key)
    if stored is None:
        enc, report = train_stored_encoder(cfg, train, test, encoder_path, log)
        source = "trained"
    else:
        enc, report = make_encoder(cfg), stored[1]
        enc.params.update(stored[0])
        source = "stored"
        log(f"encoder loaded from {encoder_path}")
    report.update({"file": os.path.basename(encoder_path), "digest": file_digest(encoder_path)})
    cache = os.path.join(cache_dir, f"captioning_features_{key}_{report['digest']}.npz")
    names = ("train_vec", "train_grid", "test_vec", "test_grid")
    if os.path.exists(cache):
        with np.load(cache) as z:
            features = {k: z[k] for k in names}
        source += ", features cached"
    else:
        t0 = time.perf_counter()
        train_vec, train_grid = enc.encode(train["images"])
        test_vec, test_grid = enc.encode(test["images"])
        report["encode_time_s"] = time.perf_counter() - t0
        features = dict(zip(names, (train_vec, train_grid, test_vec, test_grid), strict=True))
        os.makedirs(cache_dir, exist_ok=True)
        np.savez(cache + ".tmp.npz", **features)
        os.replace(cache + ".tmp.npz", cache)
    report.update({"source": source, "feature_vector_shape": list(features["train_vec"].shape[1:]),
                   "feature_grid_shape": list(features["train_grid"].shape[1:])})
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


def train_captioner(model, feats, ids, ccfg, seed, log=print, stop_at=None):
    """Train a CaptioningRNN with Adam and global-norm clipping (rnnlib.training.Trainer).

    Inputs:
    - model: a CaptioningRNN (params updated in place).
    - feats: (N, D) vectors or (N, D, P, P) grids, the model's input features.
    - ids: int (N, K, T) caption ids, K captions per image.
    - ccfg: the 'captioner' settings (epochs, batch_size, lr, clip).
    - seed: seed of the minibatch order and of the caption choice.
    - stop_at: end after this many steps without changing the schedule (a replay).

    Each minibatch uses one of an image's K captions at random; the learning rate decays
    linearly to a tenth over the run.

    Returns a dict: 'curve' ({'step', 'time_s', 'train_loss'}), 'steps', 'time_s' and
    'first_losses' (the first CAPTIONER_RECORD losses, for a replay).
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
                      record_first=CAPTIONER_RECORD).run(stop_at=stop_at)
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


def save_attention(results_dir, suffix, caption_ids, maps, test, k, idx_to_word):
    """Save the first k test images' greedy captions and attention maps (npz).

    Returns {"file", "digest"}: the npz's name and digest, which the results file records."""
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
    return {"file": os.path.basename(npz), "digest": file_digest(npz)}


def prepare(cfg, cache_dir, encoder_path, log=print):
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
    features, encoder_report = encoder_features(cfg, train, test, cache_dir, encoder_path, log)
    return data, report, features, encoder_report


def make_captioner(cell, cfg, input_dim, word_to_idx, seed):
    """The CaptioningRNN of one cell and seed (the attention one with the penalty, if its
    weight is set)."""
    ccfg = cfg["captioner"]
    kwargs = {"input_dim": input_dim, "wordvec_dim": ccfg["wordvec_dim"],
              "hidden_dim": ccfg["hidden_dim"], "cell_type": cell,
              "dtype": np.dtype(ccfg["dtype"]).type, "seed": seed * 100 + CELLS.index(cell)}
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


def cell_inputs(cell, cfg, features, split):
    """The features a cell reads (the grid for attention, else the vector), in its dtype."""
    key = "grid" if cell == "attention" else "vec"
    return features[f"{split}_{key}"].astype(np.dtype(cfg["captioner"]["dtype"]).type)


def train_cell(cell, seed, cfg, data, features, log=print):
    """Train, decode and score one cell's captioner with one seed.

    Returns (entry, attention) where attention is (greedy ids, maps) for the attention
    cell's maps, else None.
    """
    tr, te = cell_inputs(cell, cfg, features, "train"), cell_inputs(cell, cfg, features, "test")
    model = make_captioner(cell, cfg, tr.shape[1], data["word_to_idx"], seed)
    log(f"captioner {cell} seed {seed}: {sum(p.size for p in model.params.values())} params")
    hist = train_captioner(model, tr, data["train_ids"], cfg["captioner"], seed=seed, log=log)
    scored, greedy_ids, maps = decode_and_score(model, te, data, cfg["beam_size"])
    entry = {"seed": seed, "steps": hist["steps"], "train_time_s": hist["time_s"],
             "curve": hist["curve"], "first_losses": hist["first_losses"], **scored}
    log(f"  {cell} seed {seed}: greedy BLEU-4 {entry['greedy']['bleu4']:.3f} exact "
        f"{entry['greedy']['exact_match']:.3f}; beam BLEU-4 {entry['beam']['bleu4']:.3f} "
        f"exact {entry['beam']['exact_match']:.3f}")
    if maps is None:
        return entry, None
    entry["attention"] = object_word_attention(greedy_ids, maps, data["test"],
                                               data["idx_to_word"], te.shape[-1])
    log(f"  attention mass on named objects: {entry['attention']['by_word']}")
    return entry, (greedy_ids, maps)


def cell_table(cell, cfg, features, runs):
    """The results entry of one cell: its size, its input and one run per seed."""
    tr = cell_inputs(cell, cfg, features, "train")
    model = make_captioner(cell, cfg, tr.shape[1], scenes.build_vocab()[0], 0)
    return {"params": int(sum(p.size for p in model.params.values())),
            "input": f"{'grid' if cell == 'attention' else 'vec'} {list(tr.shape[1:])}",
            "runs": runs}


def run(cfg, results_dir="results", cache_dir="cache", suffix="", log=print, resume=False,
        encoder_name="captioning_encoder.npz"):
    """Run the pipeline for a config (FULL or SMOKE) and write the results files.

    The JSON is rewritten after every run (`complete` false and `partial` true until the
    last); with resume=True the runs a partial file with the same config holds are kept.
    """
    result = run_header("captioning/2", cfg["seed"])
    json_path = os.path.join(results_dir, f"captioning{suffix}.json")
    earlier = resumable(json_path, cfg) if resume else None
    t_start, cpu_start = time.perf_counter(), time.process_time()
    data, result["data"], features, result["encoder"] = prepare(
        cfg, cache_dir, os.path.join(results_dir, encoder_name), log)
    done = {(c, r["seed"]): r for c, e in (earlier or {}).get("cells", {}).items()
            for r in e["runs"]}
    result.update({"config": cfg, "order": [c for c in CELLS if c in cfg["cells"]],
                   "complete": False, "cells": {}})
    for cell in cfg["cells"]:
        for seed in cfg["seeds"]:
            if (cell, seed) in done:
                log(f"captioner {cell} seed {seed}: kept from the interrupted run")
            else:
                done[cell, seed], maps = train_cell(cell, seed, cfg, data, features, log)
                if maps is not None and seed == cfg["seeds"][0]:
                    result["attention_file"] = save_attention(
                        results_dir, suffix, *maps, data["test"], cfg["attention_samples"],
                        data["idx_to_word"])
            runs = [done[cell, s] for s in cfg["seeds"] if (cell, s) in done]
            result["cells"][cell] = cell_table(cell, cfg, features, runs)
            # Write after every run, so a run cut short still leaves its finished ones.
            result["total_time_s"] = time.perf_counter() - t_start
            result["total_cpu_s"] = time.process_time() - cpu_start
            write_json(json_path, finish_header({**result, "partial": True}))
    result.update({"total_time_s": time.perf_counter() - t_start,
                   "total_cpu_s": time.process_time() - cpu_start, "complete": True,
                   "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS")})
    if earlier and "attention_file" in earlier and "attention_file" not in result:
        result["attention_file"] = earlier["attention_file"]
    finish_header(result)
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    write_json(json_path, result)
    log(f"done in {result['total_time_s']:.0f} s")
    return result


def sparse_scenes(n, indices, cfg, split="train"):
    """A generate_scenes() dict of n scenes in which only the scenes `indices` are drawn
    (the other rows stay blank): what a replay of the first steps needs, at a fraction of
    the cost of the whole split."""
    indices = np.unique(indices)
    sub = scenes.generate_scenes(0, seed=cfg["seed"], split=split,
                                 image_size=cfg["image_size"], indices=indices)
    full = {}
    for key, value in sub.items():
        if key == "captions":
            full[key] = [[""] * scenes.NUM_TEMPLATES for _ in range(n)]
            for i, caps in zip(indices, value, strict=True):
                full[key][i] = caps
            continue
        blank = np.full((n, *value.shape[1:]), -1 if value.dtype.kind == "i" else 0,
                        dtype=value.dtype)
        blank[indices] = value
        full[key] = blank
    return full


def first_indices(n, batch_size, seed, steps, sort=False, choices=0):
    """The item indices of a Trainer's first `steps` ShuffledBatches minibatches (seed `seed`),
    drawn exactly as the run draws them (`choices`: captions per item chosen with the same
    generator, as train_captioner's batches do)."""
    batches = ShuffledBatches(n, min(batch_size, n), sort=sort, take=lambda idx, rng: (
        idx, rng.integers(0, choices, size=len(idx)) if choices else None)[0])
    rng = np.random.default_rng(seed)
    return np.concatenate([batches(rng) for _ in range(steps)])


def replay(result, results_dir="results"):
    """Rerun the recorded first steps of the encoder and of every captioner run.

    The encoder replays from its initial weights; the captioners read the features of the
    stored encoder (results/captioning_encoder.npz, whose digest the results record) for the
    scenes their first batches draw. Returns a list of (label, recorded, replayed).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _replay(result, results_dir)


def _replay(result, results_dir):
    cfg, enc_report = result["config"], result["encoder"]
    n, ecfg = cfg["n_train"], cfg["encoder"]
    path = os.path.join(results_dir, enc_report["file"])
    checks = [("stored encoder file", enc_report["digest"], file_digest(path))]
    K = len(enc_report["first_losses"])
    data = sparse_scenes(n, first_indices(n, ecfg["batch_size"], cfg["seed"], K, sort=True), cfg)
    hist = train_encoder(make_encoder(cfg), data, ecfg["epochs"], ecfg["batch_size"],
                         ecfg["lr"], seed=cfg["seed"], log=None, stop_at=K)
    checks.append(("encoder", enc_report["first_losses"], hist["first_losses"]))
    enc = make_encoder(cfg)
    enc.params.update(load_stored_encoder(path, encoder_key(cfg))[0])
    word_to_idx, _ = scenes.build_vocab()
    for cell in result["order"]:
        for r in result["cells"][cell]["runs"]:
            K = len(r["first_losses"])
            idx = np.unique(first_indices(n, cfg["captioner"]["batch_size"], r["seed"], K,
                                          choices=scenes.NUM_TEMPLATES))
            sub = sparse_scenes(n, idx, cfg)
            vec, grid = enc.encode(sub["images"][idx])
            features = {"train_vec": np.zeros((n, *vec.shape[1:]), vec.dtype),
                        "train_grid": np.zeros((n, *grid.shape[1:]), grid.dtype)}
            features["train_vec"][idx], features["train_grid"][idx] = vec, grid
            tr = cell_inputs(cell, cfg, features, "train")
            ids = scenes.encode_captions(sub["captions"], word_to_idx,
                                         scenes.max_caption_length())
            model = make_captioner(cell, cfg, tr.shape[1], word_to_idx, r["seed"])
            again = train_captioner(model, tr, ids, cfg["captioner"], r["seed"], log=None,
                                    stop_at=K)
            checks.append((f"{cell} seed {r['seed']}", r["first_losses"], again["first_losses"]))
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, a few steps")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--cells", nargs="+", choices=CELLS, help="subset of the cells")
    parser.add_argument("--seeds", nargs="+", type=int, help="captioner seeds (default: the "
                        "config's)")
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
    if args.seeds:
        cfg["seeds"] = args.seeds
    if args.ds_lambda is not None:
        cfg["captioner"]["ds_lambda"] = args.ds_lambda
    suffix = args.suffix if args.suffix is not None else ("_smoke" if args.smoke else "")
    encoder_name = "captioning_encoder_smoke.npz" if args.smoke else "captioning_encoder.npz"
    # One BLAS thread: faster on a shared 2-core machine, and what the replay uses.
    with threadpool_limits(limits=1, user_api="blas"):
        return run(cfg, args.results_dir, args.cache_dir, suffix, resume=args.resume,
                   encoder_name=encoder_name)


if __name__ == "__main__":
    main()
