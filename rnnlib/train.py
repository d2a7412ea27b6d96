"""Training at full strength: the character language model from the command line.

    python -m rnnlib.train charlm --cell lstm --minutes 15 --hidden 512 --layers 2 --dropout 0.3

trains a `CharRNN` on the first 90 % of data/tinyshakespeare.txt with truncated
backpropagation through time (N contiguous streams of T characters, the hidden state carried
from one chunk to the next), reports the validation loss in nats per character on the last
10 % at regular intervals, prints samples, keeps the checkpoint with the best validation loss
(and the latest one, for `--resume`) under checkpoints/, and writes a small results JSON in the
layout of results/README.md. The experiments under experiments/ call `train_charlm` directly.

The results bookkeeping (provenance header, atomic JSON) is in rnnlib.results.
"""

import argparse
import json
import math
import os
import shlex
import time

import numpy as np

from rnnlib.results import command_line, finish_header, run_header, subsample_curve, write_json


def lr_at(schedule, lr, frac, min_frac=0.1, warmup_frac=0.0):
    """Learning rate at a fraction `frac` in [0, 1] of the training budget.

    Inputs:
    - schedule: 'constant' or 'cosine' (half a cosine from lr down to lr * min_frac)
    - lr: float, the peak learning rate
    - frac: float, elapsed fraction of the budget (time or steps)
    - min_frac: float, final learning rate as a fraction of lr (cosine only)
    - warmup_frac: float, fraction of the budget with a linear warm-up from lr/10
    """
    frac = min(max(frac, 0.0), 1.0)
    if warmup_frac > 0 and frac < warmup_frac:
        return lr * (0.1 + 0.9 * frac / warmup_frac)
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * frac)))
    raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")


def split_text(text, train_frac=0.9):
    """The first `train_frac` of a text for training and the rest for validation (by character).

    The same cut as `rnnlib.data.train_val_split`, restated here so benchmarks/charlm_torch.py
    needs nothing but the text.
    """
    cut = int(len(text) * train_frac)
    return text[:cut], text[cut:]


def streams(ids, batch_size):
    """Cut a 1-D array of ids into `batch_size` contiguous streams, shape (batch_size, L)."""
    L = len(ids) // batch_size
    if L < 2:
        raise ValueError(f"text of {len(ids)} characters is too short for {batch_size} streams")
    return np.ascontiguousarray(ids[: L * batch_size].reshape(batch_size, L))


# ------------------------------------------------------------------------------------------
# The character language model.

DEFAULTS = {
    "data": "data/tinyshakespeare.txt", "cell": "lstm", "hidden": 512, "layers": 2,
    "dropout": 0.3, "batch": 32, "seq": 100, "lr": 2e-3, "lr_schedule": "cosine",
    "lr_min_frac": 0.1, "warmup_frac": 0.0, "clip": 5.0, "minutes": 15.0, "max_steps": None,
    "eval_every": 100, "val_chars": None, "sample_every": 5, "sample_len": 300,
    "temperature": 0.8, "seed": 0, "dtype": "float32", "ckpt_dir": "checkpoints/charlm",
    "resume": False, "out": None, "progress": True, "train_chars": None, "threads": None,
    "clock": "wall",
}


def _char_model(cfg, vocab_size):
    from rnnlib.models import CharRNN

    return CharRNN(vocab_size, cfg["hidden"], cell_type=cfg["cell"], num_layers=cfg["layers"],
                   dropout=cfg["dropout"], dtype=np.dtype(cfg["dtype"]).type, seed=cfg["seed"])


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


def _save_npz(path, arrays):
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def save_checkpoint(folder, name, model, opt_configs, meta):
    """Write `name`.npz (parameters, optimiser moments) and `name`.json (meta) atomically."""
    os.makedirs(folder, exist_ok=True)
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    for k, c in (opt_configs or {}).items():
        for key in ("m", "v"):
            if key in c:
                arrays[f"opt_{key}/{k}"] = c[key]
    if meta.get("state") is not None:
        for i, s in enumerate(meta["state"]):
            arrays[f"state/{i}"] = s
    meta = {k: v for k, v in meta.items() if k != "state"}
    meta["n_state"] = sum(1 for k in arrays if k.startswith("state/"))
    _save_npz(os.path.join(folder, name + ".npz"), arrays)
    write_json(os.path.join(folder, name + ".json"), meta)


def load_checkpoint(folder, name, model, opt_configs=None):
    """Load a checkpoint written by `save_checkpoint` into `model` (and `opt_configs`).

    Returns its meta dict, with the carried training state under 'state' (or None).
    """
    with open(os.path.join(folder, name + ".json"), encoding="utf-8") as f:
        meta = json.load(f)
    with np.load(os.path.join(folder, name + ".npz")) as z:
        for k in model.params:
            model.params[k] = z[f"param/{k}"].astype(model.params[k].dtype)
        if opt_configs is not None:
            for k, c in opt_configs.items():
                for key in ("m", "v"):
                    if f"opt_{key}/{k}" in z:
                        c[key] = z[f"opt_{key}/{k}"]
                c["t"] = meta["step"]
        n = meta.get("n_state", 0)
        meta["state"] = [z[f"state/{i}"] for i in range(n)] if n else None
    return meta


def train_charlm(cfg=None, log=print, **overrides):
    """Train a CharRNN on Tiny Shakespeare for a wall-clock budget; return a results dict.

    Inputs:
    - cfg: dict of settings (see DEFAULTS; missing keys take the defaults), or None
    - log: function taking one str, for progress messages
    - overrides: settings given as keyword arguments (win over cfg)

    Returns the results dict of results/README.md (charlm/1), also written to cfg['out']
    when that is set. The parameters of the best validation loss are in
    cfg['ckpt_dir']/best.npz when cfg['ckpt_dir'] is set.
    """
    from rnnlib.clip import clip_by_global_norm
    from rnnlib.data import CharVocab
    from rnnlib.optim import adam

    cfg = {**DEFAULTS, **(cfg or {}), **overrides}
    if cfg["threads"]:
        from threadpoolctl import threadpool_limits

        # On a shared 2-core machine, BLAS threads that wait for each other cost more than
        # they give on these matrix sizes; the caller chooses (results record the choice).
        with threadpool_limits(limits=cfg["threads"], user_api="blas"):
            return train_charlm({**cfg, "threads": None, "threads_used": cfg["threads"]},
                                log=log)
    result = run_header("charlm/1", cfg["seed"], command=cfg.get("command"))
    path = cfg["data"]
    if path == DEFAULTS["data"] and not os.path.exists(path):
        from rnnlib.data import tinyshakespeare_path

        path = tinyshakespeare_path()  # run from outside the repository root
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = CharVocab(text)
    train_text, val_text = split_text(text)
    if cfg["train_chars"]:
        train_text = train_text[: cfg["train_chars"]]
    if cfg["val_chars"]:
        val_text = val_text[: cfg["val_chars"]]
    train = streams(np.asarray(vocab.encode(train_text)), cfg["batch"])
    val = streams(np.asarray(vocab.encode(val_text)), cfg["batch"])
    V, T = len(vocab), cfg["seq"]
    model = _char_model(cfg, V)
    n_params = count_params(model.params)
    opt = {k: {"learning_rate": cfg["lr"]} for k in model.params}
    budget = cfg["minutes"] * 60.0
    max_steps = cfg["max_steps"]
    folder = cfg["ckpt_dir"]
    rng = np.random.default_rng(cfg["seed"])

    curve = {"step": [], "time_s": [], "wall_s": [], "train_loss": [], "val_loss": []}
    samples = []
    best = {"val_loss": math.inf, "step": 0, "time_s": 0.0}
    step, pos, state, done_before = 0, 0, None, 0.0
    if cfg["resume"] and folder and os.path.exists(os.path.join(folder, "last.json")):
        meta = load_checkpoint(folder, "last", model, opt)
        step, pos, done_before = meta["step"], meta["pos"], meta["time_s"]
        curve, samples, best = meta["curve"], meta["samples"], meta["best"]
        state = model.unflatten_state(meta["state"])
        if meta.get("model_rng") is not None:
            model.rng.bit_generator.state = meta["model_rng"]
        rng = np.random.default_rng([cfg["seed"], step])
        log(f"resumed from {folder}/last at step {step} ({done_before:.0f} s done)")
    start_id = vocab.encode("\n")[0]

    def take_sample(n):
        ids = model.sample(start_id, n, temperature=cfg["temperature"], rng=rng)
        return vocab.decode(ids)

    def record(elapsed, run_loss, run_n):
        v = evaluate(model, val, T)
        curve["step"].append(step)
        curve["time_s"].append(round(elapsed, 2))
        curve["wall_s"].append(round(time.perf_counter() - wall0, 2))
        curve["train_loss"].append(run_loss / run_n if run_n else None)
        curve["val_loss"].append(v)
        return v

    # 'wall' is the budget people wait for; 'cpu' (this process's CPU time) is what a quiet
    # machine would have given, so runs on a shared machine stay comparable (one BLAS thread).
    if cfg["clock"] not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {cfg['clock']!r}")
    clock = time.perf_counter if cfg["clock"] == "wall" else time.process_time
    wall0 = time.perf_counter()
    t0 = clock() - done_before
    log(f"charlm: {cfg['cell']} {cfg['layers']}x{cfg['hidden']} dropout {cfg['dropout']}, "
        f"{n_params} params, batch {cfg['batch']} x {T}, budget {budget:.0f} s")
    if step == 0:
        v = record(0.0, 0.0, 0)
        samples.append({"step": 0, "time_s": 0.0, "val_loss": v,
                        "temperature": cfg["temperature"], "text": take_sample(cfg["sample_len"])})
        log(f"step 0 val {v:.4f}")
        t0 = clock()

    bar = None
    if cfg["progress"]:
        from tqdm import tqdm
        bar = tqdm(total=round(budget), unit="s", initial=round(done_before), leave=False,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}")
    run_loss, run_n, last_tick = 0.0, 0, time.perf_counter()
    while True:
        elapsed = clock() - t0
        if elapsed >= budget or (max_steps is not None and step >= max_steps):
            break
        lr = lr_at(cfg["lr_schedule"], cfg["lr"], elapsed / budget, cfg["lr_min_frac"],
                   cfg["warmup_frac"])
        if pos + T + 1 > train.shape[1]:
            pos, state = 0, None  # one epoch done: start the streams again from a zero state
        x, y = train[:, pos:pos + T], train[:, pos + 1:pos + T + 1]
        pos += T
        loss, grads, state = model.loss(x, y, h0=state)
        if cfg["clip"]:
            grads, _ = clip_by_global_norm(grads, cfg["clip"])
        for k in model.params:
            opt[k]["learning_rate"] = lr
            model.params[k], opt[k] = adam(model.params[k], grads[k], opt[k])
        step += 1
        run_loss += loss  # already the mean per character
        run_n += 1
        if not math.isfinite(loss):
            log(f"step {step}: loss is {loss}; stopping")
            break
        if bar is not None and time.perf_counter() - last_tick > 1.0:
            bar.n = min(round(clock() - t0), round(budget))
            bar.set_postfix_str(f"step {step} loss {run_loss / run_n:.3f} lr {lr:.2e}")
            last_tick = time.perf_counter()
        if step % cfg["eval_every"] == 0:
            v = record(clock() - t0, run_loss, run_n)
            msg = f"step {step} t {curve['time_s'][-1]:.0f}s train {run_loss / run_n:.4f} " \
                  f"val {v:.4f} lr {lr:.2e}"
            run_loss, run_n = 0.0, 0
            if v < best["val_loss"]:
                best = {"val_loss": v, "step": step, "time_s": curve["time_s"][-1]}
                if folder:
                    save_checkpoint(folder, "best", model, None,
                                    {"step": step, "val_loss": v, "config": cfg,
                                     "vocab": vocab.chars if hasattr(vocab, "chars") else None})
                msg += " (best)"
            if step % (cfg["eval_every"] * cfg["sample_every"]) == 0:
                samples.append({"step": step, "time_s": curve["time_s"][-1], "val_loss": v,
                                "temperature": cfg["temperature"],
                                "text": take_sample(cfg["sample_len"])})
                msg += "\n" + samples[-1]["text"]
            if folder:
                save_checkpoint(folder, "last", model, opt,
                                {"step": step, "pos": pos, "time_s": clock() - t0,
                                 "curve": curve, "samples": samples, "best": best,
                                 "config": cfg, "state": model.flatten_state(state),
                                 "model_rng": model.rng.bit_generator.state})
            if bar is not None:
                bar.write(msg)
            else:
                log(msg)
    if bar is not None:
        bar.close()
    total = clock() - t0
    wall_total = time.perf_counter() - wall0
    if not curve["step"] or curve["step"][-1] != step:
        v = record(total, run_loss, run_n)
        if v < best["val_loss"]:
            best = {"val_loss": v, "step": step, "time_s": curve["time_s"][-1]}
            if folder:
                save_checkpoint(folder, "best", model, None,
                                {"step": step, "val_loss": v, "config": cfg})
    last_val = curve["val_loss"][-1]
    if folder and os.path.exists(os.path.join(folder, "best.npz")):
        load_checkpoint(folder, "best", model)
    samples.append({"step": best["step"], "time_s": best["time_s"], "val_loss": best["val_loss"],
                    "temperature": cfg["temperature"], "text": take_sample(2 * cfg["sample_len"])})
    bv = best["val_loss"]
    result.update({
        "framework": "rnnlib",
        "config": {"cell": cfg["cell"], "hidden_dim": cfg["hidden"], "num_layers": cfg["layers"],
                   "dropout": cfg["dropout"], "batch_size": cfg["batch"], "seq_len": T,
                   "lr": cfg["lr"],
                   "lr_schedule": f"{cfg['lr_schedule']} over the time budget to "
                                  f"{cfg['lr_min_frac']} x lr",
                   "clip": cfg["clip"] or None, "minutes": cfg["minutes"], "dtype": cfg["dtype"],
                   "eval_every": cfg["eval_every"], "val_chars": int(val.size),
                   "max_steps": max_steps, "blas_threads": cfg.get("threads_used"),
                   "clock": cfg["clock"]},
        "vocab_size": V, "params": n_params,
        "curve": subsample_curve(curve),
        "samples": samples,
        "final": {"best_val_loss": bv, "best_step": best["step"], "best_time_s": best["time_s"],
                  "bpc": bv / math.log(2), "perplexity": math.exp(bv) if bv < 50 else None,
                  "last_val_loss": last_val, "steps": step, "time_s": round(total, 1),
                  "wall_s": round(wall_total, 1),
                  "sec_per_step": total / max(step, 1)},
    })
    finish_header(result)
    if cfg["out"]:
        write_json(cfg["out"], result)
        log(f"wrote {cfg['out']}")
    log(f"best val {bv:.4f} nats/char ({bv / math.log(2):.3f} bpc) at step {best['step']}; "
        f"{step} steps in {total:.0f} s")
    return result


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
    p.add_argument("--minutes", type=float, default=d["minutes"], help="time budget")
    p.add_argument("--clock", default=d["clock"], choices=["wall", "cpu"],
                   help="measure the budget in wall-clock time or in this process's CPU time")
    p.add_argument("--max-steps", type=int, default=d["max_steps"])
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
