"""The copy (long-delay) task: remember one symbol for k steps.

A sequence has length k + 1. Step 0 shows one of `num_symbols` symbols; steps 1 .. k-1 show
random distractors drawn from a separate set; step k shows a recall marker, and the model must
then name the symbol of step 0. Only the last step is scored, so the whole learning signal has
to travel k steps back through the recurrence: a vanilla RNN's gradient fades with k, the
gated cells keep a path along which it survives (chapters 4 and 5).

    python -m experiments.copy_task            # writes results/copy_task.json
    python -m experiments.copy_task --resume   # continue an interrupted sweep

Every variant (a cell and, for the LSTM, its initial forget-gate bias) is trained on every
delay with every seed: Adam at a constant learning rate, global-norm clipping, at most
`max_steps` steps. Every `check_every` steps a fixed validation batch is scored; a run whose
validation accuracy reaches `solved_at` stops there ("solved"), so the budget goes to the runs
that need it. The accuracy is then measured on `test_size` fresh sequences. The model is built
from rnnlib's layer functions: an embedding, one recurrent layer (`rnnlib.cells`), an affine
read-out of the last hidden state and a softmax loss.
"""

import argparse
import math

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib import layers as L
from rnnlib.cells import check_cell_type, init_cell, seq_backward, seq_forward
from rnnlib.provenance import finish_header
from rnnlib.results import (
    merged_header,
    part_headers,
    read_json,
    resumable,
    run_header,
    write_json,
)
from rnnlib.training import Model, Trainer

CELLS = ("rnn", "lstm", "peephole", "gru")
# A variant is a cell and the initial bias of its forget gate (LSTM family only): the usual
# 1 (Gers et al. 2000; Jozefowicz et al. 2015), or a larger 3 (`--variants lstm_bf3`: not in
# the default sweep, which must fit in 20 minutes).
VARIANTS = {"rnn": ("rnn", 0.0), "lstm": ("lstm", 1.0), "lstm_bf3": ("lstm", 3.0),
            "gru": ("gru", 0.0)}
LABELS = {"rnn": "RNN", "lstm": "LSTM, forget bias 1", "lstm_bf3": "LSTM, forget bias 3",
          "gru": "GRU"}
SWEEP = ("rnn", "lstm", "gru")
DELAYS = (5, 10, 20, 40, 80)
SEEDS = (0, 1, 2)
CONFIG = {"num_symbols": 8, "num_distractors": 8, "embed_dim": 16, "hidden_dim": 64,
          "batch_size": 64, "lr": 5e-3, "clip": 1.0, "max_steps": 1500, "check_every": 100,
          "val_size": 500, "solved_at": 0.99, "max_seconds": 300.0, "test_size": 1000,
          "dtype": "float32", "record_first": 3}
# What the results table keeps of each run (first_losses: the replay record).
ROW_KEYS = ("accuracy", "steps", "stopped", "time_s", "final_loss", "first_losses")
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
    `forget_bias`, so the cell starts out keeping part of its memory.
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


def variant_params(variant, k, cfg, seed):
    """The initial parameters of a run and the generator its batches then come from.

    Both come from one generator seeded by (seed, k, variant index), so a run's first steps
    replay from its config and seed.
    """
    cell, forget_bias = VARIANTS[variant]
    rng = np.random.default_rng([seed, k, list(VARIANTS).index(variant)])
    S, Dn = cfg["num_symbols"], cfg["num_distractors"]
    p = init_params(cell, S + Dn + 1, cfg["embed_dim"], cfg["hidden_dim"], S, rng,
                    forget_bias, np.dtype(cfg["dtype"]).type)
    return p, rng


def train_copy(variant, k, cfg, seed, log=None, stop_at=None):
    """Train one variant on delay k with one seed; return its row (see ROW_KEYS) and params.

    stop_at=K ends the run after K steps without changing anything else (a replay).
    """
    cell = VARIANTS[variant][0]
    p, rng = variant_params(variant, k, cfg, seed)
    S, Dn = cfg["num_symbols"], cfg["num_distractors"]
    xv, yv = make_batch(np.random.default_rng([seed, k, 998]), cfg["val_size"], k, S, Dn)

    def check(trainer):
        # A fixed validation batch every check_every steps: a solved run stops early.
        if trainer.iteration % cfg["check_every"] == 0 and trainer.stopping is None:
            if accuracy(cell, p, xv, yv) >= cfg["solved_at"]:
                trainer.stopping = "solved"

    model = Model(p, lambda x, y: loss_and_grads(cell, p, x, y)[:2])
    trainer = Trainer(model, lambda r: make_batch(r, cfg["batch_size"], k, S, Dn),
                      num_steps=cfg["max_steps"], update_rule="adam",
                      optim_config={"learning_rate": cfg["lr"]}, clip_norm=cfg["clip"],
                      time_limit=cfg["max_seconds"], clock="cpu", seed=rng, callbacks=[check],
                      record_first=cfg.get("record_first", 0)).run(stop_at=stop_at)
    losses, steps = trainer.loss_history, trainer.iteration
    xt, yt = make_batch(np.random.default_rng([seed, k, 999]), cfg["test_size"], k, S, Dn)
    acc = accuracy(cell, p, xt, yt)
    final = float(np.mean(losses[-50:])) if losses else math.nan
    if log:
        log(f"{variant:9s} k={k:3d} seed {seed}: acc {acc:.3f}, loss {final:.3f}, {steps} steps "
            f"({trainer.stopping}), {trainer.elapsed:.1f} CPU s")
    return {"accuracy": acc, "steps": steps, "stopped": trainer.stopping,
            "time_s": round(trainer.elapsed, 2), "final_loss": final,
            "first_losses": trainer.first_losses, "params": p}


def rows_of(result):
    """The (variant, k, seed) -> row dict of a results file (a partial file gives fewer)."""
    rows = {}
    for variant, table in result["cells"].items():
        for i, k in enumerate(result["delays"]):
            for j, seed in enumerate(result["seeds"]):
                row = {key: table[key][i][j] for key in ROW_KEYS}
                if row["accuracy"] is not None:
                    rows[variant, k, seed] = row
    return rows


def table_of(rows, variants, delays, seeds):
    """{variant: {key: [[value per seed] per k]}} of (variant, k, seed) rows; absent: null."""
    return {v: {key: [[rows.get((v, k, s), {}).get(key) for s in seeds] for k in delays]
                for key in ROW_KEYS} for v in variants}


def _sweep(out, result, rows, plan, cfg, log):
    """Train every (variant, k, seed) of plan not in rows; rewrite `out` after each."""
    variants, delays, seeds = plan
    # These matrices are small: one BLAS thread is much faster than two that wait for each
    # other on a shared machine (measured 30x under load).
    with threadpool_limits(limits=1, user_api="blas"):
        for variant in variants:
            for k in delays:
                for seed in seeds:
                    if (variant, k, seed) in rows:
                        continue
                    r = train_copy(variant, k, cfg, seed, log)
                    rows[variant, k, seed] = {key: r[key] for key in ROW_KEYS}
                    if out:
                        write_json(out, dict(result, cells=table_of(rows, variants, delays,
                                                                     seeds), partial=True))
    return rows


def run(out="results/copy_task.json", variants=SWEEP, delays=DELAYS, seeds=SEEDS,
        log=print, resume=False, **over):
    """Every variant on every delay with every seed; writes `out` (copy_task/2).

    The file is rewritten after every run, marked `partial` until the last, so an
    interrupted sweep keeps what it did: with resume=True the runs a partial `out` with the
    same config holds are kept, and only the others train.
    """
    cfg = {**CONFIG, **over}
    result = run_header("copy_task/2", seeds[0])
    result.update({"config": cfg, "delays": list(delays), "seeds": list(seeds),
                   "order": list(variants), "labels": {v: LABELS[v] for v in variants},
                   "forget_bias": {v: VARIANTS[v][1] for v in variants},
                   "chance": 1 / cfg["num_symbols"]})
    earlier = resumable(out, cfg) if (resume and out) else None
    rows = rows_of(earlier) if earlier else {}
    rows = _sweep(out, result, rows, (variants, delays, seeds), cfg, log)
    result["cells"] = table_of(rows, variants, delays, seeds)
    finish_header(result, note="runs are bounded by max_steps or stop when solved "
                               "(max_seconds of CPU time is only a safety net)")
    if earlier:
        result["parts"] = part_headers([earlier, result])  # made by two processes
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def merge(parts, out="results/copy_task.json", log=print):
    """Join results files written by runs over subsets of the variants (parallel processes).

    The joined file keeps the first part's header, with every part's command, load averages,
    code and git revision listed under 'parts'. All parts must share config, delays and seeds.
    """
    loaded = [read_json(path) for path in parts]
    result = merged_header(loaded)
    rows = {}
    for part in loaded:
        same = all(part[key] == result[key] for key in ("config", "delays", "seeds"))
        if not same:
            raise ValueError("parts differ in config, delays or seeds; they cannot be joined")
        rows.update(rows_of(part))
    order = [v for v in VARIANTS if any(r[0] == v for r in rows)]
    result.update({"order": order, "labels": {v: LABELS[v] for v in order},
                   "forget_bias": {v: VARIANTS[v][1] for v in order},
                   "cells": table_of(rows, order, result["delays"], result["seeds"])})
    write_json(out, result)
    log(f"wrote {out} ({', '.join(order)})")
    return result


def replay(result, results_dir=None):
    """Rerun the recorded first steps of every run of a copy_task/2 file.

    Returns a list of (label, recorded losses, replayed losses), one per run.
    """
    cfg, checks = result["config"], []
    with threadpool_limits(limits=1, user_api="blas"):
        for variant in result["order"]:
            table = result["cells"][variant]
            for i, k in enumerate(result["delays"]):
                for j, seed in enumerate(result["seeds"]):
                    recorded = table["first_losses"][i][j]
                    again = train_copy(variant, k, cfg, seed, stop_at=len(recorded))
                    checks.append((f"{variant} k={k} seed {seed}", recorded,
                                   again["first_losses"]))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--merge", nargs="+", metavar="PART",
                    help="join results files of variant subsets into --out, then stop")
    ap.add_argument("--out", default="results/copy_task.json")
    ap.add_argument("--variants", nargs="+", default=list(SWEEP), choices=list(VARIANTS))
    ap.add_argument("--delays", nargs="+", type=int, default=list(DELAYS))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--max-steps", type=int, default=CONFIG["max_steps"])
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs of a partial --out with the same config, do the rest")
    args = ap.parse_args(argv)
    if args.merge:
        merge(args.merge, args.out)
        return
    run(args.out, tuple(args.variants), tuple(args.delays), tuple(args.seeds),
        resume=args.resume, max_steps=args.max_steps)


if __name__ == "__main__":
    main()
