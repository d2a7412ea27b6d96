"""The character language model at full strength (chapter 3): results/charlm.json.

The model is the PyTorch reference's of issue 7 (2-layer, 512-unit LSTM, dropout 0.3 between
layers and before the output layer, Adam with a cosine decay over the declared steps,
global-norm clipping at 5, batch 32). Issue 16 made its step about as fast as PyTorch's and
set the run up for its 15 minutes at one thread (settings chosen, not swept): 50 steps of
truncated BPTT instead of 100 (twice the updates for the same characters: the state is
carried from chunk to chunk, so a chunk's length only bounds how far back a gradient
reaches), Adam at 3e-3 with a linear warm-up over the first 2 % of the steps, and 1800 steps,
validated every 300 (a pass over the validation text costs about as much as 25 steps).

    python -m experiments.charlm                   # 1800 steps, writes results/charlm.json
    python -m experiments.charlm --max-steps 200 --out results/charlm_short.json

PyTorch's same model, run side by side (one thread each; results/charlm_torch.json):

    python benchmarks/charlm_torch.py --threads 1 --seq 50 --lr 3e-3 --warmup-frac 0.02 \\
        --max-steps 1800 --eval-every 300 --minutes 15

The 15-minute time limit only stops a run that is slower than planned (`final.stopped` then
says "time limit"); it never changes the schedule.

The same run from the command line: `python -m rnnlib.train charlm --threads 1 --seq 50
--lr 3e-3 --warmup-frac 0.02 --max-steps 1800 --eval-every 300 --out ...`. The
best-validation checkpoint is kept in checkpoints/charlm/best.npz (git-ignored); `--resume`
continues an interrupted run.
"""

import argparse

from rnnlib.train import DEFAULTS, train_charlm

CONFIG = {**DEFAULTS, "cell": "lstm", "hidden": 512, "layers": 2, "dropout": 0.3, "batch": 32,
          "seq": 50, "lr": 3e-3, "lr_schedule": "cosine", "lr_min_frac": 0.1, "warmup_frac": 0.02,
          "clip": 5.0, "max_steps": 1800, "minutes": 15.0, "eval_every": 300,
          "ckpt_dir": "checkpoints/charlm",
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
