"""How far back does the gradient reach? ||dL/dh_{T-1-k}|| against the distance k.

The loss is the copy task's (experiments/copy_task.py): only the last step is scored. The
sequence is run step by step with rnnlib's step functions, and the backward pass walks the
steps in reverse, recording the norm of dL/dh at every step (the per-example L2 norm, averaged
over the batch). For a vanilla RNN it shrinks geometrically with k; for an LSTM the cell state
carries it much further (chapters 4 and 5). Measured at initialisation and again after
training both models on the copy task with the same delay.

    python -m experiments.gradnorm            # writes results/gradnorm.json
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from experiments.copy_task import CELLS as COPY_CELLS
from experiments.copy_task import CONFIG as COPY_CONFIG
from experiments.copy_task import init_params, make_batch, train_copy
from rnnlib import layers as L
from rnnlib.results import finish_header, run_header, write_json

CONFIG = {"delay": 40, "batch_size": 256, "train_max_steps": 600, "train_max_seconds": 3600.0}


def gradient_norms(cell, p, x, y):
    """Norms of dL/dh_t (and dL/dc_t for the LSTM) against the distance from the last step.

    Inputs:
    - cell: 'rnn' or 'lstm'
    - p: copy-task parameters (experiments.copy_task.init_params)
    - x: int (N, T) token ids; y: int (N,) targets

    Returns (h_norms, c_norms): lists of length T, entry k for step T-1-k; c_norms is None for
    the RNN.
    """
    N, T = x.shape
    H = p["Wh"].shape[0]
    emb = p["W_embed"][x]
    h = np.zeros((N, H), dtype=emb.dtype)
    c = np.zeros_like(h)
    caches = []
    for t in range(T):
        if cell == "rnn":
            h, cache = L.rnn_step_forward(emb[:, t], h, p["Wx"], p["Wh"], p["b"])
        else:
            h, c, cache = L.lstm_step_forward(emb[:, t], h, c, p["Wx"], p["Wh"], p["b"])
        caches.append(cache)
    scores, out_cache = L.affine_forward(h, p["W_out"], p["b_out"])
    _, dscores = L.temporal_softmax_loss(scores[:, None], y[:, None], np.ones((N, 1), bool))
    dh, _, _ = L.affine_backward(dscores[:, 0], out_cache)
    # temporal_softmax_loss divides by N; undo it so the norms are per example.
    dh = dh * N
    dc = np.zeros_like(dh)
    h_norms, c_norms = [], []
    for t in range(T - 1, -1, -1):
        h_norms.append(float(np.linalg.norm(dh, axis=1).mean()))
        if cell == "rnn":
            _, dh, _, _, _ = L.rnn_step_backward(dh, caches[t])
        else:
            # dL/dc_t as seen from outside step t: the part through h_t plus the direct path.
            _, dh, dc, _, _, _ = L.lstm_step_backward(dh, dc, caches[t])
            c_norms.append(float(np.linalg.norm(dc, axis=1).mean()))
    return h_norms, (c_norms if cell == "lstm" else None)


def run(out="results/gradnorm.json", seed=0, log=print, **over):
    """Gradient norms of RNN and LSTM at init and after training; writes `out`."""
    cfg = {**CONFIG, **over}
    copy_cfg = {**COPY_CONFIG, "max_steps": cfg["train_max_steps"],
                "max_seconds": cfg["train_max_seconds"]}
    result = run_header("gradnorm/1", seed)
    k = cfg["delay"]
    S, Dn = copy_cfg["num_symbols"], copy_cfg["num_distractors"]
    x, y = make_batch(np.random.default_rng([seed, 7]), cfg["batch_size"], k, S, Dn)
    cells = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for cell in ("rnn", "lstm"):
            # The generator train_copy starts from: the initial weights are the trained run's.
            rng = np.random.default_rng([seed, k, COPY_CELLS.index(cell)])
            p0 = init_params(cell, S + Dn + 1, copy_cfg["embed_dim"], copy_cfg["hidden_dim"], S,
                             rng, copy_cfg["forget_bias"])
            init_h, init_c = gradient_norms(cell, p0, x, y)
            trained = train_copy(cell, k, copy_cfg, seed, log)
            tr_h, tr_c = gradient_norms(cell, trained["params"], x, y)
            cells[cell] = {"init": init_h, "trained": tr_h, "train_accuracy": trained["accuracy"],
                           "train_steps": trained["steps"],
                           "train_first_losses": trained["first_losses"]}
            if init_c is not None:
                cells[cell]["init_c"] = init_c
                cells[cell]["trained_c"] = tr_c
            log(f"{cell}: |dL/dh| at k=0,10,20,{k}: init "
                + ", ".join(f"{init_h[i]:.2e}" for i in (0, 10, 20, k))
                + "; trained " + ", ".join(f"{tr_h[i]:.2e}" for i in (0, 10, 20, k)))
    result.update({
        "config": {"seq_len": k + 1, "hidden_dim": copy_cfg["hidden_dim"],
                   "batch_size": cfg["batch_size"], "train_steps": cfg["train_max_steps"],
                   "train_max_seconds": cfg["train_max_seconds"],
                   "task": f"copy task (experiments/copy_task.py) with delay {k}, loss on the "
                           f"last step only", "copy_config": copy_cfg},
        "distance": list(range(k + 1)),
        "cells": cells,
    })
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/gradnorm.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--delay", type=int, default=CONFIG["delay"])
    args = ap.parse_args(argv)
    run(args.out, args.seed, delay=args.delay)


if __name__ == "__main__":
    main()
