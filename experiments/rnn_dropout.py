"""No dropout, standard dropout and variational dropout on a character LSTM that overfits.

The model is rnnlib.rnn_dropout.DropoutCharLSTM (one LSTM layer of HIDDEN units, E = V),
trained on the first `train_chars` characters of data/tinyshakespeare.txt only, so that
without dropout it overfits within the budget. The validation text is the first `val_chars`
characters of the corpus' last 10 % (rnnlib.data.train_val_split), far from the training
slice. Five models, each with every seed in SEEDS, for the same steps on the same batches:
no dropout; standard dropout (Zaremba et al. 2014: a fresh mask per step on the layer's
input and before the output layer) at two drop rates; variational dropout (Gal & Ghahramani
2016: one mask per chunk on the input, on the recurrent state and before the output layer)
at the same two rates. Every `eval_every` steps the loss on the whole training slice and on
the validation text is measured without dropout. Chapter 12 shows the curves and the table.

    python -m experiments.rnn_dropout          # writes results/rnn_dropout.json
"""

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib.data import CharVocab, StreamBatches, load_tinyshakespeare, streams, train_val_split
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.rnn_dropout import DropoutCharLSTM
from rnnlib.training import Callback, Trainer

CONFIG = {"hidden": 128, "layers": 1, "batch": 32, "seq": 50, "lr": 3e-3, "clip": 5.0,
          "steps": 1600, "eval_every": 100, "train_chars": 50_000, "val_chars": 20_000,
          "dtype": "float32", "record_first": 5}
# name -> (mode, drop probability)
MODELS = {"none": ("none", 0.0),
          "standard-0.1": ("standard", 0.1), "standard-0.25": ("standard", 0.25),
          "variational-0.1": ("variational", 0.1), "variational-0.25": ("variational", 0.25)}
SEEDS = (0, 1)
SUPPORTS_RESUME = False


def corpus(cfg):
    """The vocabulary and the (N, L) training and validation streams."""
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    train_text = text[:cfg["train_chars"]]
    val_text = train_val_split(text)[1][:cfg["val_chars"]]
    return (vocab, streams(vocab.encode(train_text), cfg["batch"]),
            streams(vocab.encode(val_text), cfg["batch"]))


class Curves(Callback):
    """Every `every` steps (and after the last): the training and validation loss without
    dropout, the mean training-batch loss since the last point, and the best validation."""

    def __init__(self, model, train, val, cfg):
        self.model, self.train, self.val, self.cfg = model, train, val, cfg
        self.curve = {"step": [], "batch_loss": [], "train_loss": [], "val_loss": []}
        self.best = {"val_loss": math.inf, "step": 0}
        self._since = 0

    def on_step(self, trainer):
        if not trainer.due(self.cfg["eval_every"]):
            return
        recent = trainer.loss_history[self._since:]
        self._since = len(trainer.loss_history)
        seq = self.cfg["seq"]
        v = self.model.evaluate(self.val, seq)
        self.curve["step"].append(trainer.iteration)
        self.curve["batch_loss"].append(float(np.mean(recent)))
        self.curve["train_loss"].append(self.model.evaluate(self.train, seq))
        self.curve["val_loss"].append(v)
        if v < self.best["val_loss"]:
            self.best = {"val_loss": v, "step": trainer.iteration}


def train(name, cfg, seed, data, stop_at=None):
    """Train one model; returns (model, trainer, curves). Batches in order, from step 0."""
    _, train_ids, val_ids = data
    mode, rate = MODELS[name]
    model = DropoutCharLSTM(data[0].size, cfg["hidden"], num_layers=cfg["layers"], mode=mode,
                            dropout=rate, dtype=np.dtype(cfg["dtype"]).type, seed=seed)
    curves = Curves(model, train_ids, val_ids, cfg)
    trainer = Trainer(model, StreamBatches(train_ids, cfg["seq"]), num_steps=cfg["steps"],
                      update_rule="adam", optim_config={"learning_rate": cfg["lr"]},
                      clip_norm=cfg["clip"], non_finite="stop", clock="cpu", seed=seed,
                      callbacks=[] if stop_at else [curves],
                      record_first=cfg["record_first"]).run(stop_at=stop_at)
    return model, trainer, curves


def run(out="results/rnn_dropout.json", log=print, **over):
    cfg = {**CONFIG, **over}
    result = run_header("rnn_dropout/1", SEEDS[0])
    data = corpus(cfg)
    wall0 = time.perf_counter()
    models = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (mode, rate) in MODELS.items():
            rows = []
            for seed in SEEDS:
                t0 = time.perf_counter()
                model, trainer, curves = train(name, cfg, seed, data)
                c = curves.curve
                rows.append({"seed": seed, "curve": c,
                             "best_val_loss": curves.best["val_loss"],
                             "best_step": curves.best["step"],
                             "last_val_loss": c["val_loss"][-1],
                             "last_train_loss": c["train_loss"][-1],
                             "time_s": round(trainer.elapsed, 2),
                             "wall_s": round(time.perf_counter() - t0, 2),
                             "first_losses": trainer.first_losses})
                log(f"{name} seed {seed}: best val {curves.best['val_loss']:.4f} at step "
                    f"{curves.best['step']}, last val {c['val_loss'][-1]:.4f}, train "
                    f"{c['train_loss'][-1]:.4f}; {trainer.elapsed:.1f} CPU s")
            models[name] = {"mode": mode, "dropout": rate,
                            "params": int(sum(v.size for v in model.params.values())),
                            "runs": rows}
    vocab = data[0]
    result.update({"config": cfg, "seeds": list(SEEDS), "models": models,
                   "vocab_size": vocab.size,
                   "data": {"train": f"the first {cfg['train_chars']} characters of "
                                     "data/tinyshakespeare.txt",
                            "val": f"the first {cfg['val_chars']} characters of the last "
                                   "10 % (rnnlib.data.train_val_split)",
                            "train_chars_used": int(data[1].size),
                            "val_chars_used": int(data[2].size)},
                   "wall_s": round(time.perf_counter() - wall0, 1)})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out} ({result['wall_s']} s)")
    return result


def replay(result, results_dir=None):
    """Every run's first recorded losses, trained again. Returns (label, recorded, replayed)."""
    cfg, checks = result["config"], []
    data = corpus(cfg)
    with threadpool_limits(limits=1, user_api="blas"):
        for name, entry in result["models"].items():
            for row in entry["runs"]:
                _, trainer, _ = train(name, cfg, row["seed"], data,
                                      stop_at=len(row["first_losses"]))
                checks.append((f"{name} seed {row['seed']}: first losses",
                               row["first_losses"], trainer.first_losses))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/rnn_dropout.json")
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    args = ap.parse_args(argv)
    run(args.out, steps=args.steps)


if __name__ == "__main__":
    main()
