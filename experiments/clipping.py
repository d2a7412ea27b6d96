"""Gradient clipping on and off, in a setting that diverges without it (chapter 4).

A vanilla-RNN character model whose recurrent matrix starts with a large gain (so that the
recurrence amplifies: exploding gradients, Pascanu et al. 2013) is trained with plain SGD and a
large learning rate on Tiny Shakespeare, twice from the same seed and on the same batches:
once as is, once with `rnnlib.clip.clip_by_global_norm`. The first run's gradient norm spikes
and one step throws the weights far away (the loss jumps or becomes NaN); the clipped run
takes the same steps but bounded, and trains.

    python -m experiments.clipping            # writes results/clipping.json
"""

import argparse
import math

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib.data import CharVocab, StreamBatches, load_tinyshakespeare, streams, train_val_split
from rnnlib.models import CharRNN
from rnnlib.results import finish_header, run_header, write_json
from rnnlib.training import Trainer

CONFIG = {"cell": "rnn", "hidden_dim": 128, "seq_len": 50, "batch_size": 32,
          "optimizer": "sgd", "lr": 1.0, "wh_gain": 1.0, "clip_threshold": 1.0, "steps": 400,
          "train_chars": 200_000, "blow_up": 20.0}


def train_run(cfg, train, V, seed, clip):
    """One run; returns its curve (loss and pre-clipping gradient norm per step)."""
    model = CharRNN(V, cfg["hidden_dim"], cell_type=cfg["cell"], num_layers=1, dropout=0.0,
                    dtype=np.float64, seed=seed)
    # A gain above 1 on a random Gaussian recurrent matrix puts the RNN in the amplifying
    # regime; the default 1/sqrt(H) scale is gain 1.
    model.params["Wh1"] = model.params["Wh1"] * cfg["wh_gain"]
    run = {"step": [], "loss": [], "grad_norm": [], "diverged": False, "diverged_at": None}

    def record(trainer):
        loss, norm = trainer.loss, trainer.grad_norm_history[-1]
        run["step"].append(trainer.iteration)
        run["loss"].append(loss if math.isfinite(loss) else None)
        run["grad_norm"].append(norm if math.isfinite(norm) else None)
        if not (math.isfinite(loss) and loss < cfg["blow_up"]) and not run["diverged"]:
            run["diverged"], run["diverged_at"] = True, trainer.iteration

    # non_finite='stop': a NaN loss ends the run (NaN weights: nothing more to learn from
    # it); a finite loss is applied whatever its gradient, which is the point of the run.
    trainer = Trainer(model, StreamBatches(train, cfg["seq_len"]), num_steps=cfg["steps"],
                      update_rule=cfg["optimizer"], optim_config={"learning_rate": cfg["lr"]},
                      clip_norm=cfg["clip_threshold"] if clip else None, non_finite="stop",
                      seed=seed, callbacks=[record])
    with np.errstate(all="ignore"):
        trainer.run()
    finite = [v for v in run["loss"][-20:] if v is not None]
    run["final_loss"] = float(np.mean(finite)) if finite and not run["diverged"] else None
    return run


def run(out="results/clipping.json", seed=0, log=print, **over):
    cfg = {**CONFIG, **over}
    result = run_header("clipping/1", seed)
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    train_text, _ = train_val_split(text)
    train = streams(np.asarray(vocab.encode(train_text[: cfg["train_chars"]])), cfg["batch_size"])
    runs = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, clip in (("no_clip", False), ("clip", True)):
            runs[name] = r = train_run(cfg, train, len(vocab), seed, clip)
            norms = [g for g in r["grad_norm"] if g is not None]
            log(f"{name}: diverged={r['diverged']} at {r['diverged_at']}, final loss "
                f"{r['final_loss']}, max grad norm {max(norms):.3g}, {len(r['step'])} steps")
    result.update({"config": {**cfg, "init": f"Wh = {cfg['wh_gain']} x N(0, 1/H)"},
                   "runs": runs})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/clipping.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    ap.add_argument("--lr", type=float, default=CONFIG["lr"])
    ap.add_argument("--wh-gain", type=float, default=CONFIG["wh_gain"])
    args = ap.parse_args(argv)
    run(args.out, args.seed, steps=args.steps, lr=args.lr, wh_gain=args.wh_gain)


if __name__ == "__main__":
    main()
