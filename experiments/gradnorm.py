"""How far back does the gradient reach? ||dL/dh_{T-1-k}|| against the distance k.

The loss is the copy task's (experiments/copy_task.py): only the last step is scored. The
sequence is run step by step with rnnlib's step functions, and the backward pass walks the
steps in reverse, recording the norm of dL/dh at every step (the per-example L2 norm, averaged
over the batch) and, for the LSTM, of dL/dc. For a vanilla RNN it shrinks geometrically with
k; along an LSTM's cell state it can survive much further (chapters 4 and 5).

Each network is measured twice on the same probe batch (copy sequences of delay
`probe_delay`): at initialisation, and after training on the copy task at `train_delay` with
the copy task's settings and seeds. These are the runs of results/copy_task.json's rows (the
same variant, delay, config and seed give the same weights), chosen at a delay every seed
solves, so "after training" describes networks that learned to remember.

    python -m experiments.gradnorm            # writes results/gradnorm.json
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from experiments.copy_task import CONFIG as COPY_CONFIG
from experiments.copy_task import SEEDS, VARIANTS, make_batch, train_copy, variant_params
from rnnlib import layers as L
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json

CONFIG = {"train_delay": {"rnn": 10, "lstm": 20}, "probe_delay": 40, "batch_size": 256,
          "seeds": list(SEEDS)}


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
    emb = p["W_embed"][x].astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    h = np.zeros((N, H))
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


def measure(variant, cfg, seed, probe, log=print):
    """Norms at initialisation and after training one seed; returns that seed's entry."""
    cell = VARIANTS[variant][0]
    k = cfg["train_delay"][variant]
    p0, _ = variant_params(variant, k, COPY_CONFIG, seed)  # the trained run's initial weights
    init_h, init_c = gradient_norms(cell, p0, *probe)
    trained = train_copy(variant, k, COPY_CONFIG, seed, log)
    tr_h, tr_c = gradient_norms(cell, trained["params"], *probe)
    entry = {"init": init_h, "trained": tr_h, "train_accuracy": trained["accuracy"],
             "train_steps": trained["steps"], "train_stopped": trained["stopped"],
             "train_first_losses": trained["first_losses"]}
    if init_c is not None:
        entry.update({"init_c": init_c, "trained_c": tr_c})
    at = (0, cfg["probe_delay"] // 4, cfg["probe_delay"])
    log(f"{variant} seed {seed}: trained on k={k} to {trained['accuracy']:.3f}; |dL/dh| at "
        f"distance {at}: init " + ", ".join(f"{init_h[i]:.1e}" for i in at)
        + "; trained " + ", ".join(f"{tr_h[i]:.1e}" for i in at))
    return entry


def run(out="results/gradnorm.json", log=print, **over):
    """Gradient norms of the RNN and the LSTM at init and after training; writes `out`."""
    cfg = {**CONFIG, **over}
    result = run_header("gradnorm/2", cfg["seeds"][0])
    k = cfg["probe_delay"]
    S, Dn = COPY_CONFIG["num_symbols"], COPY_CONFIG["num_distractors"]
    probe = make_batch(np.random.default_rng([7, k]), cfg["batch_size"], k, S, Dn)
    with threadpool_limits(limits=1, user_api="blas"):
        cells = {v: [measure(v, cfg, s, probe, log) for s in cfg["seeds"]]
                 for v in cfg["train_delay"]}
    result.update({
        "config": {**cfg, "seq_len": k + 1, "copy_config": COPY_CONFIG,
                   "task": f"copy task (experiments/copy_task.py); loss on the last step of "
                           f"probe sequences with delay {k}"},
        "distance": list(range(k + 1)),
        "cells": cells,
    })
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    """The initial gradient norms (computed again, in full) and every training run's first
    recorded losses. Returns a list of (label, recorded, replayed)."""
    cfg, checks = result["config"], []
    k = cfg["probe_delay"]
    S, Dn = cfg["copy_config"]["num_symbols"], cfg["copy_config"]["num_distractors"]
    probe = make_batch(np.random.default_rng([7, k]), cfg["batch_size"], k, S, Dn)
    with threadpool_limits(limits=1, user_api="blas"):
        for variant, entries in result["cells"].items():
            delay = cfg["train_delay"][variant]
            for seed, entry in zip(cfg["seeds"], entries, strict=True):
                p0, _ = variant_params(variant, delay, cfg["copy_config"], seed)
                init_h, _ = gradient_norms(VARIANTS[variant][0], p0, *probe)
                checks.append((f"{variant} seed {seed}: norms at init", entry["init"], init_h))
                recorded = entry["train_first_losses"]
                again = train_copy(variant, delay, cfg["copy_config"], seed,
                                   stop_at=len(recorded))
                checks.append((f"{variant} seed {seed}: first losses", recorded,
                               again["first_losses"]))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/gradnorm.json")
    args = ap.parse_args(argv)
    run(args.out)


if __name__ == "__main__":
    main()
