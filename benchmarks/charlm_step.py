"""One training step of the character model, rnnlib against PyTorch (run by `make bench`).

A step is what training does per batch: forward, backward, global-norm clipping at 5 and an
Adam update, for the 2x512 LSTM character model (embedding of size V = 65, dropout 0.3, batch
32 x 100), on one fixed batch. rnnlib's step is `rnnlib.training.Trainer.train_step` as
`python -m rnnlib.train charlm` sets it up (the fused LSTM, in-place clipping and Adam);
`--reference` also times the graded layers' path (CharRNN(fused=False), copying Trainer), the
path before the fused implementation. PyTorch's is benchmarks/charlm_torch.py's model.

    python benchmarks/charlm_step.py --threads 1 --rounds 9   # CPU time, one thread each
    python benchmarks/charlm_step.py --threads 2 --rounds 9   # wall time, two threads each
    python benchmarks/charlm_step.py --profile                # where rnnlib's step goes
    python benchmarks/charlm_step.py --memory                 # peak memory of rnnlib's step

Rounds are paired and alternate (rnnlib then PyTorch, then PyTorch then rnnlib, ...), so load
from other processes hits both alike; every round times `--steps` steps of each. The ratio is
the median over rounds of rnnlib's time over PyTorch's, with its spread (lowest and highest
round) and the load average before and after. At one thread the clock is CPU time (this
process, unaffected by waiting for a core); at two it is wall time, because CPU time would
count the second thread's spin-waits and penalise parallel work.
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from charlm_torch import CharLSTM
from threadpoolctl import threadpool_limits
from torch import nn

from rnnlib.models import CharRNN
from rnnlib.training import Trainer

V = 65  # Tiny Shakespeare's characters


def make_batch(args):
    rng = np.random.default_rng(args.seed)
    return rng.integers(0, V, (args.batch, args.seq)), rng.integers(0, V, (args.batch, args.seq))


def torch_step(args, x, y):
    """PyTorch's training step on (x, y), as benchmarks/charlm_torch.py trains."""
    torch.manual_seed(args.seed)
    model = CharLSTM(V, V, args.hidden, args.layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        logits, _ = model(xt)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), yt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()

    return step


def rnnlib_trainer(args, x, y, fused=True):
    """rnnlib's Trainer on (x, y): fused as rnnlib.train runs it, or the graded layers' path."""
    model = CharRNN(V, args.hidden, "lstm", args.layers, args.dropout, np.float32, args.seed,
                    fused=fused)
    return Trainer(model, lambda rng: (x, y), num_steps=10**9, update_rule="adam",
                   optim_config={"learning_rate": args.lr}, clip_norm=args.clip,
                   in_place=fused)


def rounds(fns, n_rounds, steps, clock):
    """Paired, alternating rounds: {name: [seconds per step, one per round]}."""
    times = {name: [] for name in fns}
    names = list(fns)
    for name in names:
        fns[name]()  # warm-up (buffers, caches)
    for r in range(n_rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = clock()
            for _ in range(steps):
                fns[name]()
            times[name].append((clock() - start) / steps)
    return times


def ratio_line(label, ours, theirs):
    pair = [a / b for a, b in zip(ours, theirs, strict=True)]
    return (f"{label:<34} {statistics.median(ours):7.3f} s  ratio {statistics.median(pair):.2f} "
            f"(rounds {min(pair):.2f}-{max(pair):.2f})")


def compare(args):
    threads = args.threads
    torch.set_num_threads(threads)
    x, y = make_batch(args)
    fns = {"rnnlib": rnnlib_trainer(args, x, y).train_step, "torch": torch_step(args, x, y)}
    if args.reference:
        fns["reference"] = rnnlib_trainer(args, x, y, fused=False).train_step
    clock_name = "CPU" if threads == 1 else "wall"
    clock = time.process_time if threads == 1 else time.perf_counter
    load0 = os.getloadavg()
    with threadpool_limits(limits=threads, user_api="blas"):
        times = rounds(fns, args.rounds, args.steps, clock)
    load1 = os.getloadavg()
    print(f"character-model step ({args.layers}x{args.hidden} LSTM, batch {args.batch} x "
          f"{args.seq}, forward + backward + clip + Adam), {threads} thread(s) each, "
          f"{clock_name} time, median of {args.rounds} paired alternating rounds of "
          f"{args.steps} steps; numpy {np.__version__}, torch {torch.__version__}; load "
          f"average {load0[0]:.1f} before, {load1[0]:.1f} after")
    print(f"{'PyTorch':<34} {statistics.median(times['torch']):7.3f} s")
    print(ratio_line("rnnlib (fused, in place)", times["rnnlib"], times["torch"]))
    if args.reference:
        print(ratio_line("rnnlib reference layers (before)", times["reference"], times["torch"]))
    met = "met" if _median_ratio(times) <= 1.1 else "not met"
    print(f"target: rnnlib <= 1.1 x PyTorch ({met})")
    return times


def _median_ratio(times):
    return statistics.median(a / b for a, b in zip(times["rnnlib"], times["torch"], strict=True))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2, help="steps of each library per round")
    ap.add_argument("--reference", action="store_true",
                    help="also time the graded layers' path (the step before the fused one)")
    ap.add_argument("--profile", action="store_true", help="print where rnnlib's step goes")
    ap.add_argument("--memory", action="store_true", help="print the peak memory of a step")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.profile:
        from step_profile import profile

        return profile(args, make_batch(args), rnnlib_trainer, torch_step)
    if args.memory:
        from step_profile import memory

        return memory(args, make_batch(args), rnnlib_trainer)
    return compare(args)


if __name__ == "__main__":
    main()
