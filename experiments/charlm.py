"""The character language model at full strength (chapter 3): results/charlm.json.

The settings are those of the PyTorch reference in issue 7 (2-layer, 512-unit LSTM, dropout
0.3 between layers and before the output layer, Adam 2e-3 with a cosine decay over the
budget, batch 32, 100 steps of truncated BPTT, global-norm clipping at 5), so that
benchmarks/charlm_torch.py with its defaults trains the same model for the same time.

    python -m experiments.charlm                   # 15 minutes, writes results/charlm.json
    python -m experiments.charlm --minutes 3 --out results/charlm_short.json

The same run from the command line: `python -m rnnlib.train charlm --minutes 15 --out ...`
(its defaults are these settings). The best-validation checkpoint is kept in
checkpoints/charlm/best.npz (git-ignored); `--resume` continues an interrupted run.
"""

import argparse

from rnnlib.train import DEFAULTS, train_charlm

CONFIG = {**DEFAULTS, "cell": "lstm", "hidden": 512, "layers": 2, "dropout": 0.3, "batch": 32,
          "seq": 100, "lr": 2e-3, "lr_schedule": "cosine", "lr_min_frac": 0.1, "clip": 5.0,
          "minutes": 15.0, "eval_every": 50, "ckpt_dir": "checkpoints/charlm", "seed": 0,
          "out": "results/charlm.json", "threads": 1}


def run(log=print, **over):
    return train_charlm({**CONFIG, **over}, log=log)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=CONFIG["minutes"])
    ap.add_argument("--out", default=CONFIG["out"])
    ap.add_argument("--ckpt-dir", default=CONFIG["ckpt_dir"])
    ap.add_argument("--threads", type=int, default=CONFIG["threads"],
                    help="BLAS threads (1: fastest on a busy shared machine)")
    ap.add_argument("--hidden", type=int, default=CONFIG["hidden"])
    ap.add_argument("--layers", type=int, default=CONFIG["layers"])
    ap.add_argument("--dropout", type=float, default=CONFIG["dropout"])
    ap.add_argument("--seq", type=int, default=CONFIG["seq"])
    ap.add_argument("--batch", type=int, default=CONFIG["batch"])
    ap.add_argument("--lr", type=float, default=CONFIG["lr"])
    ap.add_argument("--eval-every", type=int, default=CONFIG["eval_every"])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)
    run(minutes=args.minutes, out=args.out, ckpt_dir=args.ckpt_dir, threads=args.threads,
        hidden=args.hidden, layers=args.layers, dropout=args.dropout, seq=args.seq,
        batch=args.batch, lr=args.lr, eval_every=args.eval_every, resume=args.resume,
        progress=args.progress)


if __name__ == "__main__":
    main()
