"""Gradient clipping on and off, in a setting whose gradients explode (chapter 4).

A vanilla-RNN character model whose recurrent matrix starts with a large gain (spectral
radius about `wh_gain`: the recurrence amplifies, and so do its Jacobians, Pascanu et al.
2013) is trained with plain SGD and a large learning rate on Tiny Shakespeare by truncated
BPTT (parallel streams, the state carried from chunk to chunk). Every seed is trained three
times from the same weights on the same batches: without clipping, with every gradient entry
clipped to [-c, c] (`clip_by_value`), and with the global norm clipped to c
(`clip_by_global_norm`). Without clipping a few steps with a huge gradient throw the weights
far away; the clipped runs take the same steps with a bounded length.

    python -m experiments.clipping            # writes results/clipping.json
"""

import argparse
import math

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib.clip import global_norm
from rnnlib.data import CharVocab, StreamBatches, load_tinyshakespeare, streams, train_val_split
from rnnlib.models import CharRNN
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.training import Model, Trainer

RULES = ("none", "value", "norm")
CONFIG = {"cell": "rnn", "hidden_dim": 128, "seq_len": 50, "batch_size": 32,
          "optimizer": "sgd", "lr": 2.0, "wh_gain": 2.5, "clip_value": 0.05, "clip_norm": 1.0,
          "steps": 300, "train_chars": 200_000, "seeds": [0, 1, 2], "record_first": 10,
          "final_window": 50}


def corpus(cfg):
    """The vocabulary size and the (N, L) training streams of cfg."""
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    train_text, _ = train_val_split(text)
    ids = np.asarray(vocab.encode(train_text[: cfg["train_chars"]]))
    return len(vocab), streams(ids, cfg["batch_size"])


def make_model(cfg, V, seed):
    """The char model with its recurrent matrix scaled by wh_gain (spectral radius ~ gain)."""
    model = CharRNN(V, cfg["hidden_dim"], cell_type=cfg["cell"], num_layers=1, dropout=0.0,
                    dtype=np.float64, seed=seed)
    # The default N(0, 1/H) recurrent matrix has spectral radius about 1; a gain above 1
    # puts the RNN in the amplifying regime.
    model.params["Wh1"] = model.params["Wh1"] * cfg["wh_gain"]
    return model


def probed(model, norms):
    """The model with a loss that also appends each gradient's global norm (before any
    clipping: the Trainer clips afterwards) to `norms`."""
    def loss(*args, **kwargs):
        out = model.loss(*args, **kwargs)
        norms.append(global_norm(out[1]))
        return out

    return Model(model.params, loss)


def train_run(cfg, train, V, seed, rule, stop_at=None):
    """One run; returns its per-step losses and pre-clipping gradient norms and a summary."""
    norms = []
    model = probed(make_model(cfg, V, seed), norms)
    clip = {"value": {"clip_value": cfg["clip_value"]}, "norm": {"clip_norm": cfg["clip_norm"]},
            "none": {}}[rule]
    # non_finite='stop': a NaN loss ends the run (NaN weights: nothing more to learn from
    # it); a finite loss is applied whatever its gradient, which is the point of the run.
    trainer = Trainer(model, StreamBatches(train, cfg["seq_len"]), num_steps=cfg["steps"],
                      update_rule=cfg["optimizer"], optim_config={"learning_rate": cfg["lr"]},
                      non_finite="stop", seed=seed, record_first=cfg["record_first"], **clip)
    with np.errstate(all="ignore"):
        trainer.run(stop_at=stop_at)
    losses = [v if math.isfinite(v) else None for v in trainer.loss_history]
    norms = [v if math.isfinite(v) else None for v in norms]
    finite = [v for v in losses[-cfg["final_window"]:] if v is not None]
    return {"loss": losses, "grad_norm": norms, "steps": trainer.iteration,
            "stopped": trainer.stopping, "first_losses": trainer.first_losses,
            "max_grad_norm": max((g for g in norms if g is not None), default=None),
            "max_loss": max((v for v in losses if v is not None), default=None),
            "final_loss": float(np.mean(finite)) if finite else None}


def run(out="results/clipping.json", log=print, **over):
    """Every rule with every seed; writes `out` (clipping/2)."""
    cfg = {**CONFIG, **over}
    result = run_header("clipping/2", cfg["seeds"][0])
    V, train = corpus(cfg)
    runs = {rule: [] for rule in RULES}
    with threadpool_limits(limits=1, user_api="blas"):
        for seed in cfg["seeds"]:
            for rule in RULES:
                r = train_run(cfg, train, V, seed, rule)
                runs[rule].append(r)
                log(f"{rule:5s} seed {seed}: final loss {r['final_loss']}, largest gradient "
                    f"norm {r['max_grad_norm']:.3g}, largest loss {r['max_loss']:.2f}, "
                    f"{r['steps']} steps ({r['stopped']})")
    result.update({"config": {**cfg, "init": f"Wh = {cfg['wh_gain']} x N(0, 1/H)"},
                   "vocab_size": V, "uniform_loss": math.log(V), "runs": runs})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    """Rerun each run's recorded first steps; returns a list of (label, recorded, replayed)."""
    cfg = result["config"]
    V, train = corpus(cfg)
    checks = []
    with threadpool_limits(limits=1, user_api="blas"):
        for rule, runs in result["runs"].items():
            for seed, r in zip(cfg["seeds"], runs, strict=True):
                again = train_run(cfg, train, V, seed, rule, stop_at=len(r["first_losses"]))
                checks.append((f"{rule} seed {seed}", r["first_losses"], again["first_losses"]))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/clipping.json")
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    ap.add_argument("--lr", type=float, default=CONFIG["lr"])
    ap.add_argument("--wh-gain", type=float, default=CONFIG["wh_gain"])
    args = ap.parse_args(argv)
    run(args.out, steps=args.steps, lr=args.lr, wh_gain=args.wh_gain)


if __name__ == "__main__":
    main()
