"""The copy (long-delay) task: remember one symbol for k steps.

A sequence has length k + 1. Step 0 shows one of `num_symbols` symbols; steps 1 .. k-1 show
random distractors drawn from a separate set; step k shows a recall marker, and the model must
then name the symbol of step 0. Only the last step is scored, so the whole learning signal has
to travel k steps back through the recurrence: a vanilla RNN's gradient fades with k, the
gated cells keep a path along which it survives (chapters 4 and 5).

    python -m experiments.copy_task            # writes results/copy_task.json

Each run (cell, k) trains from the same seed with Adam and global-norm clipping for at most
`max_steps` steps or `max_seconds` seconds, then reports the accuracy on fresh sequences.
The model is built from rnnlib's layer functions: an embedding, one recurrent layer
(`rnnlib.cells`), an affine read-out of the last hidden state and a softmax loss.
"""

import argparse
import math

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib import layers as L
from rnnlib.cells import check_cell_type, init_cell, seq_backward, seq_forward
from rnnlib.results import (
    finish_header,
    merged_header,
    part_headers,
    read_json,
    resumable,
    run_header,
    write_json,
)
from rnnlib.training import Model, Trainer

CELLS = ("rnn", "lstm", "peephole", "gru")
DELAYS = (5, 10, 20, 40, 80)
CONFIG = {"num_symbols": 8, "num_distractors": 8, "embed_dim": 16, "hidden_dim": 64,
          "batch_size": 64, "lr": 5e-3, "clip": 1.0, "max_steps": 600, "max_seconds": 3600.0,
          "test_size": 1000, "forget_bias": 1.0, "record_first": 10}
# What the results table keeps of each run (first_losses: the replay record).
ROW_KEYS = ("accuracy", "steps", "time_s", "final_loss", "first_losses")
SUPPORTS_RESUME = True


def make_batch(rng, n, k, num_symbols, num_distractors):
    """A batch of copy-task sequences.

    Inputs:
    - rng: np.random.Generator
    - n: int, batch size
    - k: int >= 1, the delay
    - num_symbols, num_distractors: ints, sizes of the two alphabets

    Returns (x, y): x int (n, k + 1) token ids, y int (n,) the symbol to recall, in
    [0, num_symbols). Token ids: symbols 0 .. S-1, distractors S .. S+Dn-1, marker S+Dn.
    """
    S, Dn = num_symbols, num_distractors
    y = rng.integers(0, S, size=n)
    x = np.empty((n, k + 1), dtype=np.int64)
    x[:, 0] = y
    x[:, 1:k] = rng.integers(S, S + Dn, size=(n, k - 1))
    x[:, k] = S + Dn
    return x, y


def init_params(cell, vocab_size, embed_dim, hidden_dim, num_classes, rng, forget_bias=1.0,
                dtype=np.float64):
    """Parameters of the copy-task model: an embedding, one `rnnlib.cells` layer, a read-out.

    Recurrent weights are scaled 1/sqrt(fan-in). The LSTM-family forget-gate bias starts at
    `forget_bias` (Gers et al. 2000; Jozefowicz et al. 2015), so the cell starts out keeping
    most of its memory.
    """
    check_cell_type(cell, CELLS)
    D, H = embed_dim, hidden_dim
    p = {"W_embed": rng.standard_normal((vocab_size, D)).astype(dtype)}
    p.update(init_cell(rng, cell, D, H, dtype, forget_bias=forget_bias))
    p["W_out"] = (rng.standard_normal((H, num_classes)) / math.sqrt(H)).astype(dtype)
    p["b_out"] = np.zeros(num_classes, dtype)
    return p


def recurrent_grads(cell, dh, cache):
    """Gradients of the recurrent layer (dx under 'x'); h0 is a constant zero state here."""
    grads = seq_backward(cell, dh, cache)
    del grads["h0"]
    return grads


def loss_and_grads(cell, p, x, y):
    """Cross-entropy of the recalled symbol (mean over the batch) and the parameter gradients.

    Inputs: cell name, params dict, x int (N, T), y int (N,).
    Returns (loss, grads, scores) with scores (N, num_classes).
    """
    N, T = x.shape
    H = p["Wh"].shape[0]
    emb, emb_cache = L.word_embedding_forward(x, p["W_embed"])
    h, _, cache = seq_forward(cell, emb, np.zeros((N, H), dtype=emb.dtype), p)
    scores, out_cache = L.affine_forward(h[:, -1], p["W_out"], p["b_out"])
    loss, dscores = L.temporal_softmax_loss(scores[:, None], y[:, None],
                                            np.ones((N, 1), dtype=bool))
    dh_last, dW_out, db_out = L.affine_backward(dscores[:, 0], out_cache)
    dh = np.zeros_like(h)
    dh[:, -1] = dh_last
    g = recurrent_grads(cell, dh, cache)
    grads = {"W_embed": L.word_embedding_backward(g.pop("x"), emb_cache),
             "W_out": dW_out, "b_out": db_out, **g}
    return loss, grads, scores


def accuracy(cell, p, x, y):
    """Fraction of sequences whose recalled symbol is right."""
    _, _, scores = loss_and_grads(cell, p, x, y)
    return float((scores.argmax(axis=1) == y).mean())


def train_copy(cell, k, cfg, seed, log=None, stop_at=None):
    """Train one model on delay k; return a dict with accuracy, steps, time and the params.

    The weights and then the batches come from one generator seeded by (seed, k, cell), so
    a run's first steps replay from its config and seed (stop_at=K ends a replay after K).
    """
    rng = np.random.default_rng([seed, k, CELLS.index(cell)])
    S, Dn = cfg["num_symbols"], cfg["num_distractors"]
    p = init_params(cell, S + Dn + 1, cfg["embed_dim"], cfg["hidden_dim"], S, rng,
                    cfg["forget_bias"])
    model = Model(p, lambda x, y: loss_and_grads(cell, p, x, y)[:2])
    trainer = Trainer(model, lambda r: make_batch(r, cfg["batch_size"], k, S, Dn),
                      num_steps=cfg["max_steps"], update_rule="adam",
                      optim_config={"learning_rate": cfg["lr"]}, clip_norm=cfg["clip"],
                      time_limit=cfg["max_seconds"], seed=rng,
                      record_first=cfg.get("record_first", 0)).run(stop_at=stop_at)
    losses, step, elapsed = trainer.loss_history, trainer.iteration, trainer.elapsed
    test_rng = np.random.default_rng([seed, k, 999])
    xt, yt = make_batch(test_rng, cfg["test_size"], k, S, Dn)
    acc = accuracy(cell, p, xt, yt)
    final = float(np.mean(losses[-50:])) if losses else math.nan
    if log:
        log(f"{cell:8s} k={k:3d}: acc {acc:.3f}, loss {final:.3f}, {step} steps, {elapsed:.1f} s")
    return {"accuracy": acc, "steps": step, "time_s": round(elapsed, 2), "final_loss": final,
            "first_losses": trainer.first_losses, "params": p}


def rows_of(result):
    """The (cell, k) -> row dict of a results file's table (a partial file gives fewer)."""
    rows = {}
    for cell, table in result["cells"].items():
        for i, k in enumerate(result["delays"][:len(table["accuracy"])]):
            rows[cell, k] = {key: table[key][i] for key in table}
    return rows


def table_of(rows, cells, delays):
    """The results table {cell: {key: [value per k]}} of (cell, k) rows; absent rows: null."""
    return {cell: {key: [rows.get((cell, k), {}).get(key) for k in delays] for key in ROW_KEYS}
            for cell in cells}


def run(out="results/copy_task.json", cells=CELLS, delays=DELAYS, seed=0, log=print,
        resume=False, **over):
    """Every cell on every delay; writes `out` (results/README.md, copy_task/1).

    The file is rewritten after every run, marked `partial` until the last, so an
    interrupted sweep keeps what it did: with resume=True the runs a partial `out` with the
    same config holds are kept, and only the others train.
    """
    cfg = {**CONFIG, **over}
    result = run_header("copy_task/1", seed)
    result.update({"config": cfg, "delays": list(delays), "chance": 1 / cfg["num_symbols"]})
    earlier = resumable(out, cfg) if (resume and out) else None
    rows = rows_of(earlier) if earlier else {}
    # These matrices are small: one BLAS thread is much faster than two that wait for each
    # other on a shared machine (measured 30x under load).
    with threadpool_limits(limits=1, user_api="blas"):
        for cell in cells:
            for k in delays:
                if (cell, k) in rows:
                    continue
                r = train_copy(cell, k, cfg, seed, log)
                rows[cell, k] = {key: r[key] for key in ROW_KEYS}
                if out:
                    done = [c for c in cells if any((c, d) in rows for d in delays)]
                    write_json(out, dict(result, cells=table_of(rows, done, delays),
                                         order=done, partial=True))
    result.update({"cells": table_of(rows, cells, delays), "order": list(cells)})
    finish_header(result, note="runs are bounded by max_steps (max_seconds is only a safety "
                               "net; a run that hit it did fewer steps, see steps)")
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def merge(parts, out="results/copy_task.json", log=print):
    """Join results files written by runs over subsets of the cells and delays.

    The runs can then train in parallel processes; the joined file keeps the first part's
    header, with every part's command, load averages and git revision listed under 'parts'.
    Partial files (an interrupted sweep) contribute the rows they hold; a (cell, k) that no
    part holds is null and listed under 'missing'.
    """
    loaded = [read_json(path) for path in parts]
    result = merged_header(loaded)
    rows = {}
    for part in loaded:
        if part["config"] != result["config"]:
            raise ValueError("parts differ in config; they cannot be joined")
        rows.update(rows_of(part))
    delays = sorted({k for _, k in rows})
    order = [cell for cell in CELLS if any(c == cell for c, _ in rows)]
    result.update({"delays": delays, "cells": table_of(rows, order, delays), "order": order})
    missing = [f"{c} k={k}" for c in order for k in delays if (c, k) not in rows]
    if missing:
        result["missing"] = missing  # shown as null in the tables
    write_json(out, result)
    log(f"wrote {out} ({', '.join(result['order'])})")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--merge", nargs="+", metavar="PART",
                    help="join results files of cell subsets into --out, then stop")
    ap.add_argument("--out", default="results/copy_task.json")
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    ap.add_argument("--delays", nargs="+", type=int, default=list(DELAYS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=CONFIG["max_steps"])
    ap.add_argument("--max-seconds", type=float, default=CONFIG["max_seconds"])
    ap.add_argument("--hidden", type=int, default=CONFIG["hidden_dim"])
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs of a partial --out with the same config, do the rest")
    args = ap.parse_args(argv)
    if args.merge:
        merge(args.merge, args.out)
        return
    run(args.out, tuple(args.cells), tuple(args.delays), args.seed, resume=args.resume,
        max_steps=args.max_steps, max_seconds=args.max_seconds, hidden_dim=args.hidden)


if __name__ == "__main__":
    main()
