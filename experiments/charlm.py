"""The character language model at full strength (chapter 3): results/charlm.json.

The settings are those of the PyTorch reference in issue 7 (2-layer, 512-unit LSTM, dropout
0.3 between layers and before the output layer, Adam 2e-3 with a cosine decay over the
declared steps, batch 32, 100 steps of truncated BPTT, global-norm clipping at 5), so that
benchmarks/charlm_torch.py with its defaults trains the same model for the same steps.

    python -m experiments.charlm                   # 900 steps, writes results/charlm.json
    python -m experiments.charlm --max-steps 200 --out results/charlm_short.json

The 15-minute time limit only stops a run that is slower than planned (`final.stopped` then
says "time limit"); it never changes the schedule.

The same run from the command line: `python -m rnnlib.train charlm --threads 1 --out ...`
(its defaults are these settings). The best-validation checkpoint is kept in
checkpoints/charlm/best.npz (git-ignored); `--resume` continues an interrupted run.
"""

import argparse

from rnnlib.train import DEFAULTS, train_charlm

CONFIG = {**DEFAULTS, "cell": "lstm", "hidden": 512, "layers": 2, "dropout": 0.3, "batch": 32,
          "seq": 100, "lr": 2e-3, "lr_schedule": "cosine", "lr_min_frac": 0.1, "clip": 5.0,
          "max_steps": 900, "minutes": 15.0, "eval_every": 50, "ckpt_dir": "checkpoints/charlm",
          "seed": 0, "out": "results/charlm.json", "threads": 1}
SUPPORTS_RESUME = True


def run(log=print, **over):
    return train_charlm({**CONFIG, **over}, log=log)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-steps", type=int, default=CONFIG["max_steps"],
                    help="training steps (the schedule anneals over them)")
    ap.add_argument("--minutes", type=float, default=CONFIG["minutes"],
                    help="time limit (stops early, never changes the schedule)")
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
    ap.add_argument("--warmup-frac", type=float, default=CONFIG["warmup_frac"],
                    help="linear warm-up over this fraction of the steps")
    ap.add_argument("--eval-every", type=int, default=CONFIG["eval_every"])
    ap.add_argument("--resume", action="store_true",
                    help="continue an interrupted run from ckpt-dir/last")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)
    run(**vars(args))  # every option is a train_charlm setting of the same name


if __name__ == "__main__":
    main()
