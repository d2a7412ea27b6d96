"""RNN, LSTM, peephole LSTM and GRU on the character model at equal size and equal steps.

Each cell gets the hidden size that brings its parameter count closest to that of the LSTM of
`lstm_hidden` units (embedding and output layer included), then trains with the same data,
batch, optimiser, number of steps and step-indexed cosine schedule, once per seed (chapter 7).
The LSTM-family cells start with a forget-gate bias of `forget_bias` (1, as Jozefowicz et al.
2015 recommend); the other biases start at 0. Losses are in nats per character; the
validation loss is measured every `eval_every` steps on the first `val_chars` characters of
the held-out text. The per-run CPU-time limit only stops a run far slower than planned
(`stopped` says why each ended).

    python -m experiments.cells               # writes results/cells.json
    python -m experiments.cells --resume      # keep the finished runs of a partial file
    python -m experiments.cells --jobs 2      # two runs at a time (one per core)

The file is rewritten after every run (marked `partial` until the last).
"""

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib.cells import GATES, HAS_CELL
from rnnlib.data import CharVocab, StreamBatches, load_tinyshakespeare, streams, train_val_split
from rnnlib.models import CharRNN
from rnnlib.provenance import finish_header
from rnnlib.results import (
    part_headers,
    resumable,
    run_header,
    subsample_curve,
    write_json,
)
from rnnlib.train import count_params, evaluate
from rnnlib.training import Callback, Trainer, cosine_schedule

CELLS = ("rnn", "lstm", "peephole", "gru")
CONFIG = {"lstm_hidden": 128, "num_layers": 1, "batch_size": 32, "seq_len": 100, "lr": 2e-3,
          "lr_min_frac": 0.1, "clip": 5.0, "dropout": 0.0, "forget_bias": 1.0,
          "steps_per_cell": 500, "max_cpu_minutes": 10.0, "eval_every": 100,
          "val_chars": 32_000, "dtype": "float32", "seeds": [0, 1, 2], "record_first": 3}
SUPPORTS_RESUME = True


def n_params(cell, H, V=65, layers=1):
    """Parameters of a CharRNN (embedding of width V, `layers` layers of H units, read-out)."""
    g = GATES[cell]
    total = V * V + H * V + V
    for layer in range(layers):
        D = V if layer == 0 else H
        total += g * H * (D + H + 1) + (3 * H if cell == "peephole" else 0)
    return total


def matched_hidden(cell, target, V=65, layers=1):
    """The hidden size of `cell` whose parameter count is closest to `target`."""
    return min(range(8, 4096), key=lambda H: abs(n_params(cell, H, V, layers) - target))


def corpus(cfg):
    """The vocabulary and the (N, L) training and validation streams."""
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    train_text, val_text = train_val_split(text)
    return (vocab, streams(vocab.encode(train_text), cfg["batch_size"]),
            streams(vocab.encode(val_text[: cfg["val_chars"]]), cfg["batch_size"]))


def make_model(cell, H, V, cfg, seed):
    """A CharRNN whose LSTM-family layers start with forget-gate bias cfg['forget_bias']."""
    model = CharRNN(V, H, cell_type=cell, num_layers=cfg["num_layers"], dropout=cfg["dropout"],
                    dtype=np.dtype(cfg["dtype"]).type, seed=seed)
    if cell in HAS_CELL:
        for layer in range(1, cfg["num_layers"] + 1):
            model.params[f"b{layer}"][H:2 * H] = cfg["forget_bias"]  # gate order i, f, o, g
    return model


class Curve(Callback):
    """The validation curve of a run (step 0 first) and the running training loss."""

    def __init__(self, model, val, cfg):
        self.model, self.val, self.cfg = model, val, cfg
        self.curve = {"step": [], "time_s": [], "train_loss": [], "val_loss": []}
        self.window = []

    def point(self, step, elapsed):
        for key, value in (("step", step), ("time_s", round(elapsed, 2)),
                           ("train_loss", float(np.mean(self.window)) if self.window else None),
                           ("val_loss", evaluate(self.model, self.val, self.cfg["seq_len"]))):
            self.curve[key].append(value)
        self.window = []

    def on_begin(self, trainer):
        if trainer.iteration == 0:
            self.point(0, 0.0)

    def on_step(self, trainer):
        self.window.append(trainer.loss)
        if trainer.due(self.cfg["eval_every"]):
            self.point(trainer.iteration, trainer.elapsed)


def train_cell(cell, cfg, seed, stop_at=None, data=None):
    """One cell, one seed; returns its row of the results table."""
    vocab, train, val = data or corpus(cfg)
    target = n_params("lstm", cfg["lstm_hidden"], layers=cfg["num_layers"])
    H = matched_hidden(cell, target, layers=cfg["num_layers"])
    model = make_model(cell, H, len(vocab), cfg, seed)
    curve = Curve(model, val, cfg)
    steps = cfg["steps_per_cell"]
    trainer = Trainer(model, StreamBatches(train, cfg["seq_len"]), num_steps=steps,
                      update_rule="adam", optim_config={"learning_rate": cfg["lr"]},
                      schedule=cosine_schedule(cfg["lr"], steps, cfg["lr_min_frac"]),
                      clip_norm=cfg["clip"], non_finite="stop",
                      time_limit=60.0 * cfg["max_cpu_minutes"], clock="cpu", seed=seed,
                      callbacks=[] if stop_at else [curve], record_first=cfg["record_first"])
    with threadpool_limits(limits=1, user_api="blas"):
        trainer.run(stop_at=stop_at)
    c = curve.curve
    return {"hidden_dim": H, "params": count_params(model.params), "seed": seed,
            "steps": trainer.iteration, "stopped": trainer.stopping,
            "sec_per_step": trainer.elapsed / max(trainer.iteration, 1),
            "best_val_loss": min(c["val_loss"]) if c["val_loss"] else None,
            "final_val_loss": c["val_loss"][-1] if c["val_loss"] else None,
            "curve": subsample_curve(c), "first_losses": trainer.first_losses}


def _one(args):
    cell, cfg, seed = args
    return cell, seed, train_cell(cell, cfg, seed)


def run(out="results/cells.json", cells=CELLS, log=print, resume=False, jobs=1, **over):
    """Every cell with every seed; writes `out` after each run (cells/2)."""
    cfg = {**CONFIG, **over}
    result = run_header("cells/2", cfg["seeds"][0])
    target = n_params("lstm", cfg["lstm_hidden"], layers=cfg["num_layers"])
    config = {"target_params": target, **cfg}
    earlier = resumable(out, config) if (resume and out) else None
    table = {c: dict(earlier["cells"].get(c, {})) for c in cells} if earlier else {c: {}
                                                                                  for c in cells}
    todo = [(c, cfg, s) for c in cells for s in cfg["seeds"] if str(s) not in table[c]]
    with ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else _Serial() as pool:
        for cell, seed, row in pool.map(_one, todo):
            table[cell][str(seed)] = row
            log(f"{cell} seed {seed}: H={row['hidden_dim']}, {row['params']} params, "
                f"{row['steps']} steps ({row['stopped']}), {row['sec_per_step']:.3f} CPU s/step, "
                f"best val {row['best_val_loss']:.4f}")
            if out:
                write_json(out, dict(result, config=config, cells=table, order=list(cells),
                                     partial=True))
    result.update({"config": config, "cells": table, "order": list(cells)})
    finish_header(result, note="every run has the same steps; time limits in CPU time")
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


class _Serial:
    """A stand-in for a process pool that runs the jobs here, one after another."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def map(fn, items):
        return map(fn, items)


def replay(result, results_dir=None):
    """Rerun the recorded first steps of every run; returns (label, recorded, replayed)s."""
    cfg, checks = result["config"], []
    data = corpus(cfg)
    for cell in result["order"]:
        for seed, row in result["cells"][cell].items():
            again = train_cell(cell, cfg, int(seed), stop_at=len(row["first_losses"]), data=data)
            checks.append((f"{cell} seed {seed}", row["first_losses"], again["first_losses"]))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/cells.json")
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    ap.add_argument("--steps", type=int, default=CONFIG["steps_per_cell"],
                    help="training steps per run (the schedule anneals over them)")
    ap.add_argument("--seeds", type=int, nargs="+", default=CONFIG["seeds"])
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (one BLAS thread each)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the finished runs of a partial --out with the same config")
    args = ap.parse_args(argv)
    run(args.out, tuple(args.cells), resume=args.resume, jobs=args.jobs,
        steps_per_cell=args.steps, seeds=args.seeds)


if __name__ == "__main__":
    main()
