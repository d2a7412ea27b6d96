"""The character language model in PyTorch, for comparison with `python -m rnnlib.train charlm`.

Same data and split (first 90 % of data/tinyshakespeare.txt to train, last 10 % to validate),
same model size, batch, sequence length, dropout, optimiser, number of steps, step-indexed
schedule, clipping and time limit as the rnnlib run (its defaults are rnnlib.train's); it
writes results/charlm_torch.json in the layout of charlm.json (results/README.md). PyTorch is
a benchmark-only dependency (requirements-bench.txt).

    python benchmarks/charlm_torch.py --max-steps 900 --minutes 15 --threads 1

Run it in the same session as the rnnlib run and compare the two `final.best_val_loss`.
The speed of one training step against rnnlib's is benchmarks/charlm_step.py.
"""

import argparse
import math
import os
import time

import numpy as np
import torch
from torch import nn

from rnnlib.data import StreamBatches, streams, train_val_split
from rnnlib.results import finish_header, run_header, subsample_curve, write_json
from rnnlib.train import DEFAULTS
from rnnlib.training import step_schedule


class CharLSTM(nn.Module):
    """Embedding -> num_layers LSTM (dropout between layers) -> dropout -> linear."""

    def __init__(self, vocab_size, embed_dim, hidden_dim, num_layers, drop):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden_dim, num_layers, batch_first=True,
                           dropout=drop if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(drop)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def forward(self, x, state=None):
        h, state = self.rnn(self.embed(x), state)
        return self.out(self.drop(h)), state


@torch.no_grad()
def evaluate(model, val_streams, seq_len):
    """Mean loss per character over the validation streams, state carried between chunks."""
    model.eval()
    state, total, count = None, 0.0, 0
    L = val_streams.shape[1]
    for s in range(0, L - 1, seq_len):
        e = min(s + seq_len, L - 1)
        x = torch.from_numpy(val_streams[:, s:e])
        y = torch.from_numpy(val_streams[:, s + 1:e + 1])
        logits, state = model(x, state)
        total += nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


@torch.no_grad()
def sample(model, chars, start_id, n, temperature, gen):
    model.eval()
    x = torch.tensor([[start_id]])
    state, out = None, [chars[start_id]]
    for _ in range(n):
        logits, state = model(x, state)
        p = torch.softmax(logits[0, -1] / temperature, dim=-1)
        nxt = int(torch.multinomial(p, 1, generator=gen))
        out.append(chars[nxt])
        x = torch.tensor([[nxt]])
    model.train()
    return "".join(out)


def parse_args(argv=None):
    d = DEFAULTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/tinyshakespeare.txt")
    ap.add_argument("--max-steps", type=int, default=d["max_steps"],
                    help="training steps: the schedule follows the step index over them "
                         "(the same default as python -m rnnlib.train charlm)")
    ap.add_argument("--minutes", type=float, default=d["minutes"],
                    help="time limit: may stop the run early, never changes the schedule")
    ap.add_argument("--hidden", type=int, default=d["hidden"])
    ap.add_argument("--layers", type=int, default=d["layers"])
    ap.add_argument("--embed", type=int, default=None,
                    help="embedding size (default: the vocabulary size, as rnnlib's CharRNN)")
    ap.add_argument("--dropout", type=float, default=d["dropout"], help="drop probability")
    ap.add_argument("--batch", type=int, default=d["batch"])
    ap.add_argument("--seq", type=int, default=d["seq"])
    ap.add_argument("--lr", type=float, default=d["lr"])
    ap.add_argument("--lr-schedule", default=d["lr_schedule"], choices=["constant", "cosine"])
    ap.add_argument("--lr-min-frac", type=float, default=d["lr_min_frac"])
    ap.add_argument("--warmup-frac", type=float, default=d["warmup_frac"],
                    help="linear warm-up over this fraction of the steps (as rnnlib.train)")
    ap.add_argument("--clip", type=float, default=d["clip"])
    ap.add_argument("--eval-every", type=int, default=d["eval_every"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="measure the time limit in wall-clock time or in this process's CPU "
                         "time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record-first", type=int, default=d["record_first"],
                    help="record the losses of the first this many steps (for a replay)")
    ap.add_argument("--out", default="results/charlm_torch.json")
    return ap.parse_args(argv)


def load_streams(args):
    """The characters and the (N, L) training and validation id streams of args.data."""
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    idx = {c: i for i, c in enumerate(chars)}
    train_text, val_text = train_val_split(text)
    return (chars, streams(np.array([idx[c] for c in train_text], dtype=np.int64), args.batch),
            streams(np.array([idx[c] for c in val_text], dtype=np.int64), args.batch))


class Run:
    """One PyTorch training run: the model, its optimiser, the curve, samples and best state."""

    def __init__(self, args, chars, val):
        self.args, self.chars, self.val, V = args, chars, val, len(chars)
        self.model = CharLSTM(V, args.embed or V, args.hidden, args.layers, args.dropout)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.lr = step_schedule(args.lr_schedule, args.lr, args.max_steps, args.lr_min_frac,
                                args.warmup_frac)
        self.curve = {"step": [], "time_s": [], "wall_s": [], "train_loss": [], "val_loss": []}
        self.samples, self.gen = [], torch.Generator().manual_seed(args.seed)
        self.best, self.best_state = (math.inf, 0, 0.0), None
        self.step, self.state, self.losses, self.run_loss, self.run_n = 0, None, [], 0.0, 0
        self.wall0 = time.perf_counter()

    def train_step(self, batch):
        """Forward, backward, clip, Adam on one chunk (the state carried unless reset)."""
        for g in self.opt.param_groups:
            g["lr"] = self.lr(self.step)
        if "h0" in batch:
            self.state = None
        x, y = torch.from_numpy(batch["x"]), torch.from_numpy(batch["y"])
        if self.state is not None:
            self.state = tuple(s.detach() for s in self.state)
        logits, self.state = self.model(x, self.state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.args.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.args.clip)
        self.opt.step()
        self.step += 1
        self.losses.append(loss.item())
        self.run_loss += self.losses[-1]
        self.run_n += 1

    def record(self, elapsed):
        """A curve point: the validation loss now, the running training loss since the last."""
        v = evaluate(self.model, self.val, self.args.seq)
        for key, value in (("step", self.step), ("time_s", round(elapsed, 2)),
                           ("wall_s", round(time.perf_counter() - self.wall0, 2)),
                           ("train_loss", self.run_loss / self.run_n if self.run_n else None),
                           ("val_loss", v)):
            self.curve[key].append(value)
        self.run_loss, self.run_n = 0.0, 0
        if v < self.best[0]:
            self.best = (v, self.step, self.curve["time_s"][-1])
            self.best_state = {k: t.clone() for k, t in self.model.state_dict().items()}
        return v

    def sample(self, n, best=False):
        v, step, t = self.best if best else (self.curve["val_loss"][-1], self.step,
                                             self.curve["time_s"][-1])
        self.samples.append({"step": step, "time_s": t, "val_loss": v, "temperature": 0.8,
                             "text": sample(self.model, self.chars, self.chars.index("\n"), n,
                                            0.8, self.gen)})


def train(args, run, train_ids):
    """Train until max_steps or the time limit; returns (elapsed, the reason it stopped)."""
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    batches, t0 = StreamBatches(train_ids, args.seq), clock()
    budget = args.minutes * 60 if args.minutes else math.inf
    while True:
        run.train_step(batches())
        elapsed = clock() - t0
        if args.max_steps and run.step >= args.max_steps:
            return elapsed, "steps"
        if elapsed >= budget:
            return elapsed, "time limit"
        if run.step % args.eval_every == 0:
            v = run.record(clock() - t0)
            print(f"step {run.step} t {clock() - t0:.0f}s train {run.curve['train_loss'][-1]:.3f} "
                  f"val {v:.3f}", flush=True)
            if run.step % (args.eval_every * 5) == 0:
                run.sample(200)


def report(args, run, total, stopped, V):
    """The results fields of a finished run (the layout of charlm.json)."""
    best, last = run.best, run.curve["val_loss"][-1]
    schedule = (f"{args.lr_schedule} over {args.max_steps} steps to {args.lr_min_frac} x lr"
                if args.lr_schedule != "constant" else "constant")
    if args.warmup_frac:
        schedule += f", after a linear warm-up over {args.warmup_frac:.0%} of the steps"
    return {
        "framework": "torch", "torch_version": torch.__version__,
        "config": {"cell": "lstm", "hidden_dim": args.hidden, "num_layers": args.layers,
                   "dropout": args.dropout, "batch_size": args.batch, "seq_len": args.seq,
                   "lr": args.lr, "lr_schedule": schedule, "clip": args.clip or None,
                   "max_steps": args.max_steps, "minutes": args.minutes, "dtype": "float32",
                   "eval_every": args.eval_every, "val_chars": int(run.val.size),
                   "embed_dim": args.embed or V, "threads": args.threads, "clock": args.clock},
        "settings": vars(args),
        "vocab_size": V, "params": sum(p.numel() for p in run.model.parameters()),
        "curve": subsample_curve(run.curve),
        "samples": run.samples,
        "first_losses": run.losses[:args.record_first],
        "final": {"best_val_loss": best[0], "best_step": best[1], "best_time_s": best[2],
                  "bpc": best[0] / math.log(2), "perplexity": math.exp(best[0]),
                  "last_val_loss": last, "steps": run.step, "stopped": stopped,
                  "time_s": round(total, 1),
                  "wall_s": round(time.perf_counter() - run.wall0, 1),
                  "sec_per_step": total / max(run.step, 1)},
    }


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    result = run_header("charlm/1", args.seed)
    chars, train_ids, val = load_streams(args)
    run = Run(args, chars, val)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in run.model.parameters())} params, {args.max_steps} steps, "
          f"time limit {args.minutes} min")
    run.record(0.0)
    run.sample(200)
    total, stopped = train(args, run, train_ids)
    run.record(total)
    run.model.load_state_dict(run.best_state)
    run.sample(400, best=True)
    result.update(report(args, run, total, stopped, len(chars)))
    finish_header(result)
    write_json(args.out, result)
    best = run.best
    print(f"best val {best[0]:.4f} nats/char at step {best[1]} ({best[2]:.0f} s); "
          f"{run.step} steps, {total / max(run.step, 1):.3f} s/step ({stopped}); "
          f"wrote {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
