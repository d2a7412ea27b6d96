"""RNN, LSTM, peephole LSTM and GRU on the character model at equal size and equal steps.

Each cell gets the hidden size that brings its parameter count closest to that of the LSTM of
`lstm_hidden` units (embedding and output layer included), then trains with the same data,
batch, optimiser, number of steps and schedule (chapter 7; the cosine schedule follows the
step index). Losses are in nats per character. The per-cell time limit (CPU time of the
training process by default, `clock`: one BLAS thread, so CPU time is compute time) only
stops a run that is far slower than planned; each cell's `stopped` says why it ended.

    python -m experiments.cells               # writes results/cells.json
    python -m experiments.cells --resume      # continue an interrupted run

The file is rewritten after every cell (marked `partial` until the last); `--resume` keeps
the finished cells of a partial file with the same config and continues the cell in progress
from its checkpoint under checkpoints/cells/.
"""

import argparse
import os

from rnnlib.cells import GATES
from rnnlib.results import (
    finish_header,
    merged_header,
    part_headers,
    read_json,
    resumable,
    run_header,
    write_json,
)
from rnnlib.train import train_charlm

CELLS = ("rnn", "lstm", "peephole", "gru")
CONFIG = {"lstm_hidden": 192, "num_layers": 1, "batch_size": 32, "seq_len": 100, "lr": 2e-3,
          "clip": 5.0, "dropout": 0.0, "steps_per_cell": 1000, "minutes_per_cell": 4.0,
          "clock": "cpu", "eval_every": 50, "val_chars": 32_000, "dtype": "float32",
          "blas_threads": 1, "record_first": 10}
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


def train_cell(cell, H, cfg, seed, log, ckpt_dir=None, resume=False):
    """One cell's run (rnnlib.train.train_charlm); returns its row of the results table."""
    r = train_charlm(cell=cell, hidden=H, layers=cfg["num_layers"], dropout=cfg["dropout"],
                     batch=cfg["batch_size"], seq=cfg["seq_len"], lr=cfg["lr"],
                     clip=cfg["clip"], max_steps=cfg["steps_per_cell"],
                     minutes=cfg["minutes_per_cell"], eval_every=cfg["eval_every"],
                     val_chars=cfg["val_chars"], dtype=cfg["dtype"], seed=seed,
                     ckpt_dir=ckpt_dir, resume=resume, out=None, progress=False,
                     sample_len=200, sample_every=10**9, threads=cfg["blas_threads"],
                     clock=cfg["clock"], record_first=cfg["record_first"], log=log)
    f = r["final"]
    log(f"{cell}: H={H}, {r['params']} params, {f['steps']} steps, "
        f"{f['sec_per_step']:.2f} s/step, best val {f['best_val_loss']:.4f}")
    return {"hidden_dim": H, "params": r["params"], "steps": f["steps"],
            "stopped": f["stopped"], "sec_per_step": f["sec_per_step"],
            "best_val_loss": f["best_val_loss"], "final_val_loss": f["last_val_loss"],
            "curve": r["curve"], "sample": r["samples"][-1]["text"],
            "first_losses": r["first_losses"], "settings": r["settings"]}


def run(out="results/cells.json", cells=CELLS, seed=0, log=print, resume=False,
        ckpt_dir="checkpoints/cells", **over):
    """Every cell in `cells`; writes `out` after each (results/README.md, cells/1)."""
    cfg = {**CONFIG, **over}
    result = run_header("cells/1", seed)
    target = n_params("lstm", cfg["lstm_hidden"], layers=cfg["num_layers"])
    config = {"target_params": target, **cfg}
    earlier = resumable(out, config) if (resume and out) else None
    table = dict(earlier["cells"]) if earlier else {}
    for cell in cells:
        if cell in table:
            log(f"{cell}: kept from the interrupted run in {out}")
            continue
        H = matched_hidden(cell, target, layers=cfg["num_layers"])
        folder = os.path.join(ckpt_dir, f"seed{seed}_{cell}") if ckpt_dir else None
        table[cell] = train_cell(cell, H, cfg, seed, log, folder, resume)
        if out:
            write_json(out, dict(result, config=config, cells=table, order=list(table),
                                 partial=True))
    result.update({"config": config, "cells": table, "order": list(cells)})
    finish_header(result, note=f"time limit per cell in {cfg['clock']} time")
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def merge(parts, out="results/cells.json", log=print):
    """Join results files written by runs over subsets of the cells (parallel processes)."""
    loaded = [read_json(path) for path in parts]
    result = merged_header(loaded)
    result["cells"] = {}
    for part in loaded:
        if part["config"] != result["config"]:
            raise ValueError("parts differ in config; they cannot be joined")
        result["cells"].update(part["cells"])
    result["order"] = [c for c in CELLS if c in result["cells"]]
    write_json(out, result)
    log(f"wrote {out} ({', '.join(result['order'])})")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--merge", nargs="+", metavar="PART",
                    help="join results files of cell subsets into --out, then stop")
    ap.add_argument("--out", default="results/cells.json")
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    ap.add_argument("--steps", type=int, default=CONFIG["steps_per_cell"],
                    help="training steps per cell (the schedule anneals over them)")
    ap.add_argument("--minutes", type=float, default=CONFIG["minutes_per_cell"],
                    help="time limit per cell (stops early, never changes the schedule)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", default=CONFIG["clock"], choices=["wall", "cpu"])
    ap.add_argument("--resume", action="store_true",
                    help="keep the finished cells of a partial --out, continue the next")
    args = ap.parse_args(argv)
    if args.merge:
        merge(args.merge, args.out)
        return
    run(args.out, tuple(args.cells), args.seed, resume=args.resume,
        steps_per_cell=args.steps, minutes_per_cell=args.minutes, clock=args.clock)


if __name__ == "__main__":
    main()
