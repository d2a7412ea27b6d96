"""Training at full strength: the character language model from the command line.

    python -m rnnlib.train charlm --cell lstm --hidden 512 --layers 2 --dropout 0.3 \\
        --max-steps 900 --minutes 15

trains a `CharRNN` on the first 90 % of data/tinyshakespeare.txt with truncated
backpropagation through time (N contiguous streams of T characters, the hidden state carried
from one chunk to the next), reports the validation loss in nats per character on the last
10 % at regular intervals, prints samples, keeps the checkpoint with the best validation loss
(and the latest one, for `--resume`) under checkpoints/, and writes a small results JSON in the
layout of results/README.md. The experiments under experiments/ call `train_charlm` directly.

The run has a declared number of steps (`--max-steps`): the learning-rate schedule follows
the step index over them. `--minutes` is a time limit that may stop a run early (the results
say so under `final.stopped`); it never changes the schedule, so `--resume` after an
interruption gives the uninterrupted run. The loop is `rnnlib.training.Trainer`.
"""

import argparse
import math
import os
import shlex
import time

import numpy as np

from rnnlib import checkpoint
from rnnlib.data import CharVocab, StreamBatches, streams, train_val_split
from rnnlib.results import command_line, finish_header, run_header, subsample_curve, write_json
from rnnlib.training import Callback, Checkpoints, Progress, Trainer, step_schedule

DEFAULTS = {
    "data": "data/tinyshakespeare.txt", "cell": "lstm", "hidden": 512, "layers": 2,
    "dropout": 0.3, "batch": 32, "seq": 100, "lr": 2e-3, "lr_schedule": "cosine",
    "lr_min_frac": 0.1, "warmup_frac": 0.0, "clip": 5.0, "max_steps": 900, "minutes": 15.0,
    "stop_at": None, "eval_every": 100, "val_chars": None, "sample_every": 5,
    "sample_len": 300, "temperature": 0.8, "seed": 0, "dtype": "float32",
    "ckpt_dir": "checkpoints/charlm", "resume": False, "out": None, "progress": True,
    "train_chars": None, "threads": None, "clock": "wall", "record_first": 5,
}


def count_params(params):
    """Total number of entries of a dict of parameter arrays."""
    return int(sum(np.asarray(p).size for p in params.values()))


def evaluate(model, val, seq_len):
    """Mean validation loss in nats per character, the state carried from chunk to chunk.

    Inputs:
    - model: a CharRNN
    - val: int array (N, L) of N contiguous validation streams
    - seq_len: int, chunk length T

    Dropout is off (the model's test mode); no gradients are computed.
    """
    state, total, count = None, 0.0, 0
    L = val.shape[1]
    for s in range(0, L - 1, seq_len):
        e = min(s + seq_len, L - 1)
        x, y = val[:, s:e], val[:, s + 1:e + 1]
        loss, state = model.eval_loss(x, y, h0=state)  # mean over the chunk's characters
        total += loss * y.size
        count += y.size
    return total / count


def load_checkpoint(folder, name, model):
    """Load the parameters of checkpoint `folder`/`name` into `model`; returns its tree."""
    return checkpoint.load_params(os.path.join(folder, name), model)


def _read_corpus(cfg):
    """The vocabulary and the (N, L) training and validation streams of cfg's text."""
    path = cfg["data"]
    if path == DEFAULTS["data"] and not os.path.exists(path):
        from rnnlib.data import tinyshakespeare_path

        path = tinyshakespeare_path()  # run from outside the repository root
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = CharVocab(text)
    train_text, val_text = train_val_split(text)
    train_text = train_text[: cfg["train_chars"] or None]
    val_text = val_text[: cfg["val_chars"] or None]
    return (vocab, streams(vocab.encode(train_text), cfg["batch"]),
            streams(vocab.encode(val_text), cfg["batch"]))


def _char_model(cfg, vocab_size):
    from rnnlib.models import CharRNN

    return CharRNN(vocab_size, cfg["hidden"], cell_type=cfg["cell"], num_layers=cfg["layers"],
                   dropout=cfg["dropout"], dtype=np.dtype(cfg["dtype"]).type, seed=cfg["seed"])


class CharLMMonitor(Callback):
    """Validation curve, samples and the best model of a character-model run.

    Every `eval_every` steps (and after the last) it measures the validation loss, keeps the
    best parameters (in memory, and as checkpoint `folder`/best when a folder is given),
    draws a sample every `sample_every` evaluations and logs a line.
    """

    def __init__(self, cfg, model, vocab, val, folder, log):
        self.cfg, self.model, self.vocab, self.val, self.folder, self.log = (
            cfg, model, vocab, val, folder, log)
        self.curve = {"step": [], "time_s": [], "wall_s": [], "train_loss": [], "val_loss": []}
        self.samples, self.best, self.best_params = [], {"val_loss": math.inf, "step": 0,
                                                         "time_s": 0.0}, None
        self.sample_rng = np.random.default_rng(cfg["seed"])
        self.run_loss, self.run_n, self.wall0 = 0.0, 0, time.perf_counter()

    def sample(self, step, n):
        ids = self.model.sample(self.vocab.encode("\n")[0], n,
                                temperature=self.cfg["temperature"], rng=self.sample_rng)
        best = self.best if step is None else {"step": step, "time_s": self.curve["time_s"][-1],
                                               "val_loss": self.curve["val_loss"][-1]}
        self.samples.append({**best, "temperature": self.cfg["temperature"],
                             "text": self.vocab.decode(ids)})
        return self.samples[-1]["text"]

    def record(self, step, elapsed):
        v = evaluate(self.model, self.val, self.cfg["seq"])
        for key, value in (("step", step), ("time_s", round(elapsed, 2)),
                           ("wall_s", round(time.perf_counter() - self.wall0, 2)),
                           ("train_loss", self.run_loss / self.run_n if self.run_n else None),
                           ("val_loss", v)):
            self.curve[key].append(value)
        self.run_loss, self.run_n = 0.0, 0
        return v

    def on_begin(self, trainer):
        self.wall0 = time.perf_counter()
        if trainer.iteration == 0 and not self.curve["step"]:
            v = self.record(0, 0.0)
            self.sample(0, self.cfg["sample_len"])
            self.log(f"step 0 val {v:.4f}")

    def on_step(self, trainer):
        self.run_loss += trainer.loss  # already the mean per character
        self.run_n += 1
        if trainer.stopping == "non-finite loss":
            self.log(f"step {trainer.iteration}: loss is {trainer.loss}; stopping")
        if not trainer.due(self.cfg["eval_every"]):
            return
        step, train_loss = trainer.iteration, self.run_loss / self.run_n
        v = self.record(step, trainer.elapsed)
        msg = (f"step {step} t {self.curve['time_s'][-1]:.0f}s train {train_loss:.4f} "
               f"val {v:.4f} lr {trainer.learning_rate:.2e}")
        if v < self.best["val_loss"]:
            self.keep_best(step, v)
            msg += " (best)"
        if step % (self.cfg["eval_every"] * self.cfg["sample_every"]) == 0:
            msg += "\n" + self.sample(step, self.cfg["sample_len"])
        self.log(msg)

    def keep_best(self, step, v):
        self.best = {"val_loss": v, "step": step, "time_s": self.curve["time_s"][-1]}
        self.best_params = {k: w.copy() for k, w in self.model.params.items()}
        if self.folder:
            checkpoint.save(os.path.join(self.folder, "best"),
                            {"param": self.best_params, "iteration": step, "val_loss": v,
                             "config": self.cfg, "vocab": self.vocab.chars})

    def restore_best(self):
        """Give the model the best parameters seen (from memory or the best checkpoint)."""
        best = os.path.join(self.folder, "best") if self.folder else None
        if self.best_params is not None:
            checkpoint.copy_params(self.best_params, self.model.params)
        elif best and checkpoint.exists(best):
            checkpoint.load_params(best, self.model)

    def state_dict(self):
        return {"curve": self.curve, "samples": self.samples, "best": self.best,
                "sample_rng": self.sample_rng.bit_generator.state}

    def load_state_dict(self, tree):
        self.curve, self.samples, self.best = tree["curve"], tree["samples"], tree["best"]
        self.sample_rng.bit_generator.state = tree["sample_rng"]


# Settings a resumed run may change: where it writes, how it reports, when it stops early.
RESUME_MAY_CHANGE = ("resume", "progress", "out", "command", "ckpt_dir", "minutes", "stop_at",
                     "threads", "threads_used")


def _check_same_run(saved, cfg):
    """Raise ValueError if a checkpoint's settings differ from cfg where a resume cannot.

    A constant learning rate does not depend on the number of steps, so such a run may be
    extended; any other schedule would change under it.
    """
    free = RESUME_MAY_CHANGE
    if cfg["lr_schedule"] == "constant" and not cfg["warmup_frac"]:
        free += ("max_steps",)
    differ = sorted(k for k in set(saved) | set(cfg)
                    if k not in free and saved.get(k) != cfg.get(k))
    if differ:
        raise ValueError("cannot resume: the checkpoint was made with other settings: "
                         + ", ".join(f"{k}={saved.get(k)!r} (now {cfg.get(k)!r})"
                                     for k in differ))


def settings(cfg=None, **overrides):
    """The full settings of a run: DEFAULTS, updated by cfg, then by the keyword overrides."""
    cfg = {**DEFAULTS, **(cfg or {}), **overrides}
    if cfg["clock"] not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {cfg['clock']!r}")
    # Checked before any work: a cosine schedule needs its declared number of steps.
    step_schedule(cfg["lr_schedule"], cfg["lr"], cfg["max_steps"])
    return cfg


def train_charlm(cfg=None, log=print, **overrides):
    """Train a CharRNN on Tiny Shakespeare for a declared number of steps; return a results dict.

    Inputs:
    - cfg: dict of settings (see DEFAULTS; missing keys take the defaults), or None
    - log: function taking one str, for progress messages
    - overrides: settings given as keyword arguments (win over cfg)

    Returns the results dict of results/README.md (charlm/1), also written to cfg['out']
    when that is set. The parameters of the best validation loss are in
    cfg['ckpt_dir']/best.npz when cfg['ckpt_dir'] is set.
    """
    cfg = settings(cfg, **overrides)
    if cfg["threads"]:
        from threadpoolctl import threadpool_limits

        # On a shared 2-core machine, BLAS threads that wait for each other cost more than
        # they give on these matrix sizes; the caller chooses (results record the choice).
        with threadpool_limits(limits=cfg["threads"], user_api="blas"):
            return train_charlm({**cfg, "threads": None, "threads_used": cfg["threads"]},
                                log=log)
    result = run_header("charlm/1", cfg["seed"], command=cfg.get("command"))
    vocab, train, val = _read_corpus(cfg)
    model = _char_model(cfg, len(vocab))
    folder = cfg["ckpt_dir"]
    progress = Progress("charlm", every=10, enabled=cfg["progress"])
    monitor = CharLMMonitor(cfg, model, vocab, val, folder,
                            progress.write if cfg["progress"] else log)
    trainer = _trainer(cfg, model, train, [progress, monitor])
    if cfg["resume"] and folder and checkpoint.exists(os.path.join(folder, "last")):
        tree = checkpoint.load(os.path.join(folder, "last"))
        _check_same_run(tree["metadata"]["config"], cfg)
        trainer.load_state_dict(tree)
        log(f"resumed from {folder}/last at step {trainer.iteration} "
            f"({trainer.elapsed:.0f} s done)")
    log(f"charlm: {cfg['cell']} {cfg['layers']}x{cfg['hidden']} dropout {cfg['dropout']}, "
        f"{count_params(model.params)} params, batch {cfg['batch']} x {cfg['seq']}, "
        f"{cfg['max_steps']} steps, time limit {cfg['minutes']} min")
    trainer.run(stop_at=cfg["stop_at"])
    monitor.restore_best()
    monitor.sample(None, 2 * cfg["sample_len"])
    result.update(_report(cfg, trainer, monitor, len(vocab), val))
    finish_header(result)
    if cfg["out"]:
        write_json(cfg["out"], result)
        log(f"wrote {cfg['out']}")
    bv = result["final"]["best_val_loss"]
    log(f"best val {bv:.4f} nats/char ({bv / math.log(2):.3f} bpc) at step "
        f"{monitor.best['step']}; {trainer.iteration} steps in {trainer.elapsed:.0f} s "
        f"({trainer.stopping})")
    return result


def _trainer(cfg, model, train, callbacks):
    """The Trainer of a character-model run: Adam, the step-indexed schedule, clipping,
    the time limit, and the last checkpoint (for --resume) at every evaluation. The model
    returns fresh gradients, so the Trainer clips and updates in place."""
    if cfg["ckpt_dir"]:
        callbacks = [*callbacks, Checkpoints(os.path.join(cfg["ckpt_dir"], "last"),
                                             every=cfg["eval_every"])]
    return Trainer(
        model, StreamBatches(train, cfg["seq"]), num_steps=cfg["max_steps"],
        update_rule="adam", optim_config={"learning_rate": cfg["lr"]},
        schedule=step_schedule(cfg["lr_schedule"], cfg["lr"], cfg["max_steps"],
                               cfg["lr_min_frac"], cfg["warmup_frac"]),
        clip_norm=cfg["clip"] or None, non_finite="stop",
        time_limit=cfg["minutes"] * 60.0 if cfg["minutes"] else None, clock=cfg["clock"],
        seed=cfg["seed"], callbacks=callbacks, record_first=cfg["record_first"],
        metadata={"config": cfg}, in_place=True)


def _report(cfg, trainer, monitor, V, val):
    """The results fields of a finished run (results/README.md, charlm/1)."""
    best, steps = monitor.best, trainer.iteration
    bv = best["val_loss"]
    schedule = (f"{cfg['lr_schedule']} over {cfg['max_steps']} steps to "
                f"{cfg['lr_min_frac']} x lr" if cfg["lr_schedule"] != "constant" else "constant")
    if cfg["warmup_frac"]:
        schedule += f", after a linear warm-up over {cfg['warmup_frac']:.0%} of the steps"
    return {
        "framework": "rnnlib",
        "config": {"cell": cfg["cell"], "hidden_dim": cfg["hidden"], "num_layers": cfg["layers"],
                   "dropout": cfg["dropout"], "batch_size": cfg["batch"], "seq_len": cfg["seq"],
                   "lr": cfg["lr"], "lr_schedule": schedule, "clip": cfg["clip"] or None,
                   "minutes": cfg["minutes"], "dtype": cfg["dtype"],
                   "eval_every": cfg["eval_every"], "val_chars": int(val.size),
                   "max_steps": cfg["max_steps"], "blas_threads": cfg.get("threads_used"),
                   "clock": cfg["clock"]},
        "settings": {k: v for k, v in cfg.items() if k not in ("resume", "progress")},
        "vocab_size": V, "params": count_params(monitor.model.params),
        "curve": subsample_curve(monitor.curve),
        "samples": monitor.samples,
        "first_losses": trainer.first_losses,
        "final": {"best_val_loss": bv, "best_step": best["step"], "best_time_s": best["time_s"],
                  "bpc": bv / math.log(2), "perplexity": math.exp(bv) if bv < 50 else None,
                  "last_val_loss": monitor.curve["val_loss"][-1], "steps": steps,
                  "stopped": trainer.stopping, "time_s": round(trainer.elapsed, 1),
                  "wall_s": round(time.perf_counter() - monitor.wall0, 1),
                  "sec_per_step": trainer.elapsed / max(steps, 1)},
    }


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m rnnlib.train", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="task", required=True)
    p = sub.add_parser("charlm", help="character language model on Tiny Shakespeare")
    d = DEFAULTS
    p.add_argument("--data", default=d["data"])
    p.add_argument("--cell", default=d["cell"], choices=["rnn", "lstm", "peephole", "gru"])
    p.add_argument("--hidden", type=int, default=d["hidden"])
    p.add_argument("--layers", type=int, default=d["layers"])
    p.add_argument("--dropout", type=float, default=d["dropout"],
                   help="probability of DROPPING a unit (0 = no dropout)")
    p.add_argument("--batch", type=int, default=d["batch"], help="parallel streams N")
    p.add_argument("--seq", type=int, default=d["seq"], help="truncated BPTT length T")
    p.add_argument("--lr", type=float, default=d["lr"], help="Adam's peak learning rate")
    p.add_argument("--lr-schedule", default=d["lr_schedule"], choices=["constant", "cosine"])
    p.add_argument("--lr-min-frac", type=float, default=d["lr_min_frac"])
    p.add_argument("--warmup-frac", type=float, default=d["warmup_frac"])
    p.add_argument("--clip", type=float, default=d["clip"],
                   help="global-norm clipping threshold on the per-character gradient (0: off)")
    p.add_argument("--max-steps", type=int, default=d["max_steps"],
                   help="training steps: the run ends there and the learning-rate schedule "
                        "follows the step index over them")
    p.add_argument("--minutes", type=float, default=d["minutes"],
                   help="time limit: may stop the run early, never changes the schedule")
    p.add_argument("--clock", default=d["clock"], choices=["wall", "cpu"],
                   help="measure the time limit in wall-clock time or in this process's CPU "
                        "time")
    p.add_argument("--stop-at", type=int, default=d["stop_at"],
                   help="stop after this many steps without changing the schedule (replays)")
    p.add_argument("--eval-every", type=int, default=d["eval_every"])
    p.add_argument("--val-chars", type=int, default=d["val_chars"],
                   help="validate on the first this many validation characters (default: all)")
    p.add_argument("--train-chars", type=int, default=d["train_chars"],
                   help="train on the first this many training characters (smoke tests)")
    p.add_argument("--sample-every", type=int, default=d["sample_every"],
                   help="sample every this many evaluations")
    p.add_argument("--sample-len", type=int, default=d["sample_len"])
    p.add_argument("--temperature", type=float, default=d["temperature"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--dtype", default=d["dtype"], choices=["float32", "float64"])
    p.add_argument("--ckpt-dir", default=d["ckpt_dir"],
                   help="checkpoints: best.npz (best validation) and last.npz (for --resume)")
    p.add_argument("--resume", action="store_true", help="continue from ckpt-dir/last")
    p.add_argument("--out", default=None, help="write the results JSON here")
    p.add_argument("--threads", type=int, default=d["threads"],
                   help="BLAS threads (default: the library's own choice)")
    p.add_argument("--record-first", type=int, default=d["record_first"],
                   help="record the losses of the first this many steps (for a replay)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no tqdm bar (log lines only)")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = {k: v for k, v in vars(args).items() if k != "task"}
    cfg["command"] = command_line() if argv is None else shlex.join(
        ["python", "-m", "rnnlib.train", *argv])
    train_charlm(cfg, log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
