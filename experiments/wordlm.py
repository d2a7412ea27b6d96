"""A word-level LSTM language model on Tiny Shakespeare, beside word n-gram baselines.

Tokens and vocabulary from rnnlib.words (words, punctuation and line breaks; a cut-off of
MIN_COUNT training occurrences, the rest <unk>). Baselines: interpolated bigram and trigram
models (rnnlib.words.InterpolatedNgram), their weights fitted on the first half of the
validation tokens; every model is scored on the second half. The LSTM (rnnlib's CharRNN over
word ids) is trained with truncated BPTT in two ways, three seeds each, for the same steps:
**sequential** partitioning (parallel streams, the state carried from one chunk to the next)
and **random** partitioning (windows drawn at random positions, the state reset every batch).
Losses are reported per token (perplexity) and per character of the scored text, where the
cost of spelling each <unk> token with a character unigram model is added (results/README.md).

    python -m experiments.wordlm            # writes results/wordlm.json (chapter 10)
"""

import argparse
import math
from collections import Counter

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib import words
from rnnlib.data import StreamBatches, load_tinyshakespeare, streams, train_val_split
from rnnlib.models import CharRNN
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.training import Trainer, cosine_schedule

MIN_COUNT = 3
CONFIG = {"min_count": MIN_COUNT, "hidden": 128, "embed": 64, "batch": 32, "seq": 35,
          "steps": 600, "lr": 3e-3, "clip": 5.0, "dropout": 0.2, "record_first": 5,
          "temperatures": [0.5, 0.8, 1.2], "sample_len": 60}
SEEDS = (0, 1, 2)
PARTITIONS = ("sequential", "random")
SUPPORTS_RESUME = False


def corpus(cfg):
    """Tokens, vocabulary and id arrays: train, fit (first half of validation), score."""
    train_text, val_text = train_val_split(load_tinyshakespeare())
    train_tok, val_tok = words.tokenize(train_text), words.tokenize(val_text)
    vocab = words.WordVocab(train_tok, cfg["min_count"])
    half = len(val_tok) // 2
    return {"train_text": train_text, "val_text": val_text, "train_tok": train_tok,
            "fit_tok": val_tok[:half], "score_tok": val_tok[half:], "vocab": vocab,
            "train": vocab.encode(train_tok), "fit": vocab.encode(val_tok[:half]),
            "score": vocab.encode(val_tok[half:])}


def random_windows(ids, batch, seq):
    """Batches of windows at random positions, each with a fresh zero state."""
    def draw(rng):
        start = rng.integers(0, len(ids) - seq - 1, size=batch)
        x = np.stack([ids[s:s + seq] for s in start])
        y = np.stack([ids[s + 1:s + seq + 1] for s in start])
        return {"x": x, "y": y, "h0": None}
    return draw


def make_model(cfg, V, seed):
    return CharRNN(V, cfg["hidden"], cell_type="lstm", num_layers=1, dropout=cfg["dropout"],
                   wordvec_dim=cfg["embed"], seed=seed)


def train(cfg, data, partition, seed, stop_at=None):
    """One LSTM run; returns (model, trainer)."""
    model = make_model(cfg, data["vocab"].size, seed)
    if partition == "sequential":
        batches = StreamBatches(streams(data["train"], cfg["batch"]), cfg["seq"])
    else:
        batches = random_windows(data["train"], cfg["batch"], cfg["seq"])
    trainer = Trainer(model, batches, num_steps=cfg["steps"], update_rule="adam",
                      optim_config={"learning_rate": cfg["lr"]}, clip_norm=cfg["clip"],
                      schedule=cosine_schedule(cfg["lr"], cfg["steps"]), clock="cpu",
                      seed=[seed, 3], record_first=cfg["record_first"], in_place=True)
    return model, trainer.run(stop_at=stop_at)


def score_nats(model, ids, chunk=2000):
    """Total nats of ids[1:] given the model, reading ids as one stream from a zero state
    (in chunks, the state carried)."""
    total, state = 0.0, None
    for start in range(0, len(ids) - 1, chunk):
        x, y = ids[None, start:start + chunk], ids[start + 1:start + chunk + 1]
        scores, state = model.forward(x[:, :len(y)], h0=state)
        s = scores[0].astype(np.float64)
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        total -= float(logp[np.arange(len(y)), y].sum())
    return total


def per_char(nats, data, n_tokens):
    """Nats per character of the scored text, the spelling of its <unk> tokens included."""
    toks = data["score_tok"][-n_tokens:]
    chars = Counter(data["train_text"])
    probs = {c: k / sum(chars.values()) for c, k in chars.items()}
    spell = words.unk_spelling_nats(toks, data["vocab"], probs)
    return (nats + spell) / len(words.detokenize(toks))


def baselines(data):
    """Interpolated bigram and trigram on the scored tokens from position 2 on."""
    out = {}
    for order in (2, 3):
        m = words.InterpolatedNgram(data["train"], data["vocab"].size, order)
        weights = m.fit_weights(data["fit"])
        lp = m.log_probs(data["score"])[3 - order:]            # tokens 2.. for both orders
        nats = -float(lp.sum())
        out[f"{order}-gram"] = {"weights": [float(w) for w in weights],
                                "ppl": math.exp(nats / len(lp)),
                                "bpc": per_char(nats, data, len(lp)) / math.log(2)}
    return out


def lstm_row(cfg, data, partition, seed, log):
    model, trainer = train(cfg, data, partition, seed)
    ids = data["score"]
    # The LSTM is scored on the same tokens as the n-grams: tokens 2.. of the scored half.
    nats = score_nats(model, ids) - score_nats(model, ids[:2])
    n = len(ids) - 2
    row = {"seed": seed, "ppl": math.exp(nats / n), "bpc": per_char(nats, data, n) / math.log(2),
           "final_train_loss": float(np.mean(trainer.loss_history[-50:])),
           "time_s": round(trainer.elapsed, 1), "first_losses": trainer.first_losses}
    log(f"lstm {partition} seed {seed}: perplexity {row['ppl']:.1f}, {row['bpc']:.3f} bpc, "
        f"{trainer.elapsed:.0f} CPU s")
    return row, model


def samples(model, data, cfg):
    vocab, out = data["vocab"], []
    start = vocab.encode(["\n"])
    for tau in cfg["temperatures"]:
        ids = model.sample(start, cfg["sample_len"], temperature=tau, rng=1)
        out.append({"temperature": tau, "text": words.detokenize(vocab.decode(ids))})
    return out


def run(out="results/wordlm.json", log=print, **over):
    cfg = {**CONFIG, **over}
    result = run_header("wordlm/1", SEEDS[0])
    data = corpus(cfg)
    vocab = data["vocab"]
    with threadpool_limits(limits=1, user_api="blas"):
        table = baselines(data)
        runs, best = {}, None
        for partition in PARTITIONS:
            runs[partition] = []
            for seed in SEEDS:
                row, model = lstm_row(cfg, data, partition, seed, log)
                runs[partition].append(row)
                if best is None or row["ppl"] < best[0]:
                    best = (row["ppl"], model, partition, seed)
        sample = samples(best[1], data, cfg)
    unk = float((data["score"] == 0).mean())
    zipf = {f"{n}-gram": words.ngram_frequencies(data["train_tok"], n)[:5000].tolist()
            for n in (1, 2, 3)}
    result.update({"config": cfg, "seeds": list(SEEDS), "vocab_size": vocab.size,
                   "train_tokens": len(data["train"]), "score_tokens": len(data["score"]),
                   "unk_rate": unk, "reconstruction_rate": words.reconstruction_rate(
                       data["val_text"]), "top_words": vocab.itos[1:21], "baselines": table,
                   "lstm": runs, "samples": sample, "samples_from": list(best[2:]),
                   "zipf": zipf})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    cfg, checks = result["config"], []
    data = corpus(cfg)
    with threadpool_limits(limits=1, user_api="blas"):
        for partition, rows in result["lstm"].items():
            for row in rows:
                _, trainer = train(cfg, data, partition, row["seed"],
                                   stop_at=len(row["first_losses"]))
                checks.append((f"{partition} seed {row['seed']}: first losses",
                               row["first_losses"], trainer.first_losses))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/wordlm.json")
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    args = ap.parse_args(argv)
    run(args.out, steps=args.steps)


if __name__ == "__main__":
    main()
