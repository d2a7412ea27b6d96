"""The character language model in PyTorch, for comparison with `python -m rnnlib.train charlm`.

Same data and split (first 90 % of data/tinyshakespeare.txt to train, last 10 % to validate),
same model size, batch, sequence length, dropout, optimiser, schedule, clipping and wall-clock
budget as the rnnlib run; it writes results/charlm_torch.json in the layout of charlm.json
(results/README.md). PyTorch is a benchmark-only dependency (requirements-bench.txt).

    python benchmarks/charlm_torch.py --minutes 15 --hidden 512 --layers 2 --dropout 0.3

Run it in the same session as the rnnlib run and compare the two `final.best_val_loss`.
"""

import argparse
import math
import os
import time

import numpy as np
import torch
from torch import nn

from rnnlib.data import train_val_split
from rnnlib.results import finish_header, run_header, subsample_curve, write_json
from rnnlib.training import lr_at


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


def streams(ids, batch_size):
    """Cut a 1-D id array into `batch_size` contiguous streams, shape (batch_size, L)."""
    L = len(ids) // batch_size
    return ids[: L * batch_size].reshape(batch_size, L)


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/tinyshakespeare.txt")
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embed", type=int, default=None,
                    help="embedding size (default: the vocabulary size, as rnnlib's CharRNN)")
    ap.add_argument("--dropout", type=float, default=0.3, help="drop probability")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"])
    ap.add_argument("--lr-min-frac", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="budget in wall-clock time or in this process's CPU time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/charlm_torch.json")
    ap.add_argument("--step-cpu", type=int, default=0, metavar="N",
                    help="only time N training steps of rnnlib and of PyTorch in CPU seconds "
                         "(one thread each; independent of other jobs' load) and print them")
    args = ap.parse_args(argv)
    if args.step_cpu:
        return step_cpu(args)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    result = run_header("charlm/1", args.seed)
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    idx = {c: i for i, c in enumerate(chars)}
    train_text, val_text = train_val_split(text)
    train = streams(np.array([idx[c] for c in train_text], dtype=np.int64), args.batch)
    val = streams(np.array([idx[c] for c in val_text], dtype=np.int64), args.batch)

    V = len(chars)
    model = CharLSTM(V, args.embed or V, args.hidden, args.layers, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    budget = args.minutes * 60
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n_params} params, "
          f"budget {budget:.0f} s")

    curve = {"step": [], "time_s": [], "wall_s": [], "train_loss": [], "val_loss": []}
    samples, gen = [], torch.Generator().manual_seed(args.seed)
    best = (math.inf, 0, 0.0)
    state, pos, step, run_loss, run_n = None, 0, 0, 0.0, 0
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    wall0 = time.perf_counter()
    t0 = clock()

    def checkpoint(elapsed):
        v = evaluate(model, val, args.seq)
        curve["step"].append(step)
        curve["time_s"].append(round(elapsed, 2))
        curve["wall_s"].append(round(time.perf_counter() - wall0, 2))
        curve["train_loss"].append(run_loss / run_n if run_n else None)
        curve["val_loss"].append(v)
        return v

    v0 = checkpoint(0.0)
    samples.append({"step": 0, "time_s": 0.0, "val_loss": v0, "temperature": 0.8,
                    "text": sample(model, chars, idx["\n"], 200, 0.8, gen)})
    while True:
        elapsed = clock() - t0
        if elapsed >= budget or (args.max_steps and step >= args.max_steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr_schedule, args.lr, elapsed / budget, args.lr_min_frac)
        if pos + args.seq + 1 > train.shape[1]:
            pos, state = 0, None
        x = torch.from_numpy(train[:, pos:pos + args.seq])
        y = torch.from_numpy(train[:, pos + 1:pos + args.seq + 1])
        pos += args.seq
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip:
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        run_loss += loss.item()
        run_n += 1
        if step % args.eval_every == 0:
            v = checkpoint(clock() - t0)
            print(f"step {step} t {clock() - t0:.0f}s train {run_loss / run_n:.3f} "
                  f"val {v:.3f}", flush=True)
            run_loss, run_n = 0.0, 0
            if v < best[0]:
                best = (v, step, curve["time_s"][-1])
                best_state = {k: t.clone() for k, t in model.state_dict().items()}
            if step % (args.eval_every * 5) == 0:
                samples.append({"step": step, "time_s": curve["time_s"][-1], "val_loss": v,
                                "temperature": 0.8,
                                "text": sample(model, chars, idx["\n"], 200, 0.8, gen)})
    total = clock() - t0
    last = checkpoint(total)
    if last < best[0]:
        best = (last, step, curve["time_s"][-1])
        best_state = {k: t.clone() for k, t in model.state_dict().items()}
    model.load_state_dict(best_state)
    samples.append({"step": best[1], "time_s": best[2], "val_loss": best[0], "temperature": 0.8,
                    "text": sample(model, chars, idx["\n"], 400, 0.8, gen)})

    result.update({
        "framework": "torch", "torch_version": torch.__version__,
        "config": {"cell": "lstm", "hidden_dim": args.hidden, "num_layers": args.layers,
                   "dropout": args.dropout, "batch_size": args.batch, "seq_len": args.seq,
                   "lr": args.lr,
                   "lr_schedule": f"{args.lr_schedule} over the time budget to "
                                  f"{args.lr_min_frac} x lr",
                   "clip": args.clip or None, "minutes": args.minutes, "dtype": "float32",
                   "eval_every": args.eval_every, "val_chars": int(val.size),
                   "embed_dim": args.embed or V, "threads": args.threads,
                   "clock": args.clock},
        "vocab_size": V, "params": n_params,
        "curve": subsample_curve(curve),
        "samples": samples,
        "final": {"best_val_loss": best[0], "best_step": best[1], "best_time_s": best[2],
                  "bpc": best[0] / math.log(2), "perplexity": math.exp(best[0]),
                  "last_val_loss": last, "steps": step, "time_s": round(total, 1),
                  "wall_s": round(time.perf_counter() - wall0, 1),
                  "sec_per_step": total / max(step, 1)},
    })
    finish_header(result)
    write_json(args.out, result)
    print(f"best val {best[0]:.4f} nats/char at step {best[1]} ({best[2]:.0f} s); "
          f"{step} steps, {total / max(step, 1):.3f} s/step; wrote {args.out}")


def step_cpu(args):
    """CPU seconds per training step (forward, backward, clip, Adam) of both libraries."""
    from threadpoolctl import threadpool_limits

    from rnnlib.clip import clip_by_global_norm
    from rnnlib.models import CharRNN
    from rnnlib.optim import adam

    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    V = 65
    x = rng.integers(0, V, (args.batch, args.seq))
    y = rng.integers(0, V, (args.batch, args.seq))
    model = CharLSTM(V, args.embed or V, args.hidden, args.layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step():
        logits, _ = model(xt)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), yt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()

    ours = CharRNN(V, args.hidden, "lstm", args.layers, args.dropout, np.float32, args.seed,
                   wordvec_dim=args.embed)
    configs = {k: {"learning_rate": args.lr} for k in ours.params}

    def rnnlib_step():
        _, grads, _ = ours.loss(x, y)
        grads, _ = clip_by_global_norm(grads, args.clip)
        for k in ours.params:
            ours.params[k], configs[k] = adam(ours.params[k], grads[k], configs[k])

    times = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, fn in (("torch", torch_step), ("rnnlib", rnnlib_step)):
            fn()  # warm-up
            t0 = time.process_time()
            for _ in range(args.step_cpu):
                fn()
            times[name] = (time.process_time() - t0) / args.step_cpu
    print(f"CPU seconds per step, {args.layers}x{args.hidden} LSTM, batch {args.batch} x "
          f"{args.seq}, one thread: rnnlib {times['rnnlib']:.3f}, torch {times['torch']:.3f}, "
          f"ratio {times['rnnlib'] / times['torch']:.2f}")
    return times


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
