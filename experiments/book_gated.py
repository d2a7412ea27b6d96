"""Small experiments for the book's chapters on gated cells (chapter 6: peephole connections).

    python -m experiments.book_gated timing      # writes results/book_gated_timing.json

The timing task follows the spirit of Gers, Schraudolph & Schmidhuber (2002), "measuring spike
delays": the input is silent except for two pulses, d steps apart (d drawn at random per
sequence); the model must fire exactly d steps after the second pulse, i.e. reproduce an
interval it has just measured. Every step after the second pulse is scored (fire / do not
fire), and a sequence counts as solved only if all of them are right, so firing one step early
or late is a failure. A cell solves it by counting in its memory, which is what peephole
connections were proposed for.

The model reuses the parameter layout of `experiments.copy_task` and its `rnnlib.cells` layer
(embedding -> one recurrent layer -> affine read-out at every step -> softmax loss); plain LSTM
and peephole LSTM start from the same seeds and differ only in `Wp`.
"""

import argparse
import math

import numpy as np

from experiments.copy_task import init_params, recurrent_grads
from rnnlib import layers as L
from rnnlib.cells import seq_forward
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.training import Model, Trainer

TIMING = {"min_delay": 4, "max_delay": 14, "max_start": 4, "embed_dim": 4, "hidden_dim": 16,
          "batch_size": 64, "lr": 1e-2, "clip": 1.0, "max_steps": 600, "max_seconds": 900.0,
          "test_size": 1000, "val_size": 300, "eval_every": 25, "forget_bias": 1.0,
          "seeds": [0, 1, 2], "record_first": 10}
TIMING_CELLS = ("lstm", "peephole")


def timing_batch(rng, n, min_delay, max_delay, max_start):
    """A batch of interval-reproduction sequences.

    Inputs:
    - rng: np.random.Generator
    - n: int, batch size
    - min_delay, max_delay: ints, the interval d is uniform in [min_delay, max_delay]
    - max_start: int, the first pulse is at a step uniform in [0, max_start]

    Returns (x, y, mask, d): x int (n, T) with 1 at the two pulses and 0 elsewhere; y int
    (n, T), 1 only at the step where the model must fire; mask bool (n, T), True at every step
    after the second pulse; d int (n,) the intervals. T = max_start + 2 * max_delay + 2.
    """
    T = max_start + 2 * max_delay + 2
    start = rng.integers(0, max_start + 1, size=n)
    d = rng.integers(min_delay, max_delay + 1, size=n)
    rows = np.arange(n)
    x = np.zeros((n, T), dtype=np.int64)
    y = np.zeros((n, T), dtype=np.int64)
    x[rows, start] = 1
    x[rows, start + d] = 1
    y[rows, start + 2 * d] = 1
    mask = np.arange(T)[None, :] > (start + d)[:, None]
    return x, y, mask, d


def timing_loss(cell, p, x, y, mask):
    """Per-step cross-entropy of the fire / no-fire decision and the parameter gradients.

    Returns (loss, grads, scores) with scores (N, T, 2).
    """
    N, _ = x.shape
    H = p["Wh"].shape[0]
    emb, emb_cache = L.word_embedding_forward(x, p["W_embed"])
    h, _, cache = seq_forward(cell, emb, np.zeros((N, H), dtype=emb.dtype), p)
    scores, out_cache = L.temporal_affine_forward(h, p["W_out"], p["b_out"])
    loss, dscores = L.temporal_softmax_loss(scores, y, mask)
    dh, dW_out, db_out = L.temporal_affine_backward(dscores, out_cache)
    g = recurrent_grads(cell, dh, cache)
    grads = {"W_embed": L.word_embedding_backward(g.pop("x"), emb_cache),
             "W_out": dW_out, "b_out": db_out, **g}
    return loss, grads, scores


def solved(scores, y, mask):
    """Per sequence: True when every scored step's decision is right (bool (N,))."""
    right = (scores.argmax(axis=2) == y) | ~mask
    return right.all(axis=1)


def train_timing(cell, cfg, seed, log=None, stop_at=None):
    """Train one model; return accuracy overall and per interval, steps and time.

    stop_at=K ends the run after K steps (a replay of a recorded run's first steps).
    """
    rng = np.random.default_rng([seed, 6])  # the same initial weights for both cells
    p = init_params(cell, 2, cfg["embed_dim"], cfg["hidden_dim"], 2, rng, cfg["forget_bias"])
    dims = (cfg["min_delay"], cfg["max_delay"], cfg["max_start"])
    # A fixed validation batch, scored during training: how soon each cell solves the task.
    vx, vy, vmask, _ = timing_batch(np.random.default_rng([seed, 998]), cfg["val_size"], *dims)
    val_step, val_solved = [], []

    def validate(trainer):
        # Before the step numbered a multiple of eval_every (step 0 first), as in the book.
        if trainer.iteration % cfg["eval_every"] == 0 and trainer.stopping is None:
            val_step.append(trainer.iteration)
            val_solved.append(float(solved(timing_loss(cell, p, vx, vy, vmask)[2], vy,
                                           vmask).mean()))

    def batches(data_rng):
        x, y, mask, _ = timing_batch(data_rng, cfg["batch_size"], *dims)
        return x, y, mask

    model = Model(p, lambda x, y, mask: timing_loss(cell, p, x, y, mask)[:2])
    trainer = Trainer(model, batches, num_steps=cfg["max_steps"], update_rule="adam",
                      optim_config={"learning_rate": cfg["lr"]}, clip_norm=cfg["clip"],
                      time_limit=cfg["max_seconds"],
                      seed=[seed, 7],  # the same batches for both cells
                      callbacks=[validate], record_first=cfg.get("record_first", 0))
    validate(trainer)
    trainer.run(stop_at=stop_at)
    result = test_timing(cell, p, cfg, seed, trainer.loss_history)
    if log:
        log(f"{cell:8s} seed {seed}: solved {result['accuracy']:.3f}, {trainer.iteration} "
            f"steps, {trainer.elapsed:.1f} s")
    return {**result, "steps": trainer.iteration, "time_s": round(trainer.elapsed, 2),
            "val_step": val_step, "val_solved": val_solved,
            "first_losses": trainer.first_losses}


def test_timing(cell, p, cfg, seed, losses):
    """Accuracy on fresh test sequences, overall and per interval, and the loss curve."""
    dims = (cfg["min_delay"], cfg["max_delay"], cfg["max_start"])
    x, y, mask, d = timing_batch(np.random.default_rng([seed, 999]), cfg["test_size"], *dims)
    _, _, scores = timing_loss(cell, p, x, y, mask)
    ok = solved(scores, y, mask)
    delays = list(range(cfg["min_delay"], cfg["max_delay"] + 1))
    by_delay = [float(ok[d == k].mean()) if np.any(d == k) else None for k in delays]
    curve_idx = np.linspace(0, len(losses) - 1, min(40, len(losses))).astype(int)
    curve = [float(np.mean(losses[max(0, i - 24):i + 1])) for i in curve_idx]
    return {"accuracy": float(ok.mean()), "accuracy_by_delay": by_delay,
            "final_loss": curve[-1] if curve else math.nan,
            "loss_step": [int(i) for i in curve_idx], "loss": curve}


def run_timing(out="results/book_gated_timing.json", log=print, **over):
    """Plain and peephole LSTM on the timing task, several seeds each; writes `out`."""
    cfg = {**TIMING, **over}
    result = run_header("book_gated_timing/1", cfg["seeds"][0])
    cells = {cell: [train_timing(cell, cfg, s, log) for s in cfg["seeds"]]
             for cell in TIMING_CELLS}
    result.update({"config": cfg, "delays": list(range(cfg["min_delay"], cfg["max_delay"] + 1)),
                   "cells": cells, "order": list(TIMING_CELLS)})
    finish_header(result, note="both cells get the same steps and batches; "
                               "max_seconds is only a safety bound")
    if out:
        write_json(out, result)
        if log:
            log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    """Rerun the recorded first steps of every run; returns (label, recorded, replayed)s."""
    cfg, checks = result["config"], []
    for cell in result["order"]:
        for seed, r in zip(cfg["seeds"], result["cells"][cell], strict=True):
            again = train_timing(cell, cfg, seed, stop_at=len(r["first_losses"]))
            checks.append((f"{cell} seed {seed}", r["first_losses"], again["first_losses"]))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", choices=["timing"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--max-steps", type=int, default=TIMING["max_steps"])
    ap.add_argument("--max-seconds", type=float, default=TIMING["max_seconds"])
    args = ap.parse_args(argv)
    run_timing(args.out or "results/book_gated_timing.json", max_steps=args.max_steps,
               max_seconds=args.max_seconds)


if __name__ == "__main__":
    main()
