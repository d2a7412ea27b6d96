"""The character language model at full strength (chapter 3): results/charlm.json.

The model is the PyTorch reference's of issue 7 (2-layer, 512-unit LSTM, dropout between
layers and before the output layer, Adam with a cosine decay over the declared steps,
global-norm clipping at 5, batch 32). Issue 16 made its step about as fast as PyTorch's and
set the run up for its 15 minutes at one thread (settings chosen, not swept): 50 steps of
truncated BPTT instead of 100 (twice the updates for the same characters: the state is
carried from chunk to chunk, so a chunk's length only bounds how far back a gradient
reaches), Adam at 5e-3 with a linear warm-up over the first 2 % of the steps, dropout 0.1
instead of 0.3 (1500 steps see about 2.4 million characters, under three passes over the
training text, too few to overfit much; trial runs, benchmarks/README.md: 0.1 and 0.2 at 5e-3
both reached about 1.45 by step 1230, where 0.3 at 3e-3 was at 1.48), and 1500 steps,
validated every 300 (a pass over the validation text costs about as much as 25 steps). 1500
steps and their validation passes fit the 15 minutes on the course's 2-core machine with a
PyTorch run beside it (about 0.53 s a step each; 1800, the earlier plan, needed 0.45).

    python -m experiments.charlm                   # 1500 steps, writes results/charlm.json
    python -m experiments.charlm --max-steps 200 --out results/charlm_short.json

PyTorch's same model, run side by side (one thread each; results/charlm_torch.json):

    python benchmarks/charlm_torch.py --threads 1 --seq 50 --lr 5e-3 --dropout 0.1 \\
        --warmup-frac 0.02 --max-steps 1500 --eval-every 300 --minutes 15

The 15-minute time limit only stops a run that is slower than planned (`final.stopped` then
says "time limit"); it never changes the schedule.

After training, the best model's hidden units are searched for ones that track named
features of the validation text (rnnlib.interpret): each unit is chosen on the first
UNIT_CHARS characters, its correlation reported on the next UNIT_CHARS, beside the same search
on the untrained network; `units` in the results file holds the table and, for a stretch of
the held-out text, the activations of the chosen units (chapter 5 draws them).

The training alone from the command line: `python -m rnnlib.train charlm --threads 1 --seq 50
--lr 5e-3 --dropout 0.1 --warmup-frac 0.02 --max-steps 1500 --eval-every 300 --out ...`. The
best-validation checkpoint is kept in checkpoints/charlm/best.npz (git-ignored); `--resume`
continues an interrupted run.
"""

import argparse

import numpy as np

from rnnlib import interpret
from rnnlib.blas import blas_kernel
from rnnlib.data import CharVocab, load_tinyshakespeare, train_val_split
from rnnlib.models import CharRNN
from rnnlib.results import write_json
from rnnlib.train import DEFAULTS, load_checkpoint, train_charlm

CONFIG = {**DEFAULTS, "cell": "lstm", "hidden": 512, "layers": 2, "dropout": 0.1, "batch": 32,
          "seq": 50, "lr": 5e-3, "lr_schedule": "cosine", "lr_min_frac": 0.1, "warmup_frac": 0.02,
          "clip": 5.0, "max_steps": 1500, "minutes": 15.0, "eval_every": 300,
          "ckpt_dir": "checkpoints/charlm",
          "seed": 0, "out": "results/charlm.json", "threads": 1}
SUPPORTS_RESUME = True
# The unit search: choose on the first UNIT_CHARS validation characters, report on the next
# UNIT_CHARS; the stretch drawn starts at the first line of the held-out part after SHOW_FROM.
UNIT_CHARS = 20_000
SHOW_FROM, SHOW_CHARS = 1_000, 700


def run(log=print, **over):
    cfg = {**CONFIG, **over}
    result = train_charlm({**cfg, "out": None}, log=log)
    result["units"] = unit_search(cfg, log)
    result["machine"]["blas_kernel"] = blas_kernel()   # what its replay's last bits follow
    if cfg["out"]:
        write_json(cfg["out"], result)
        log(f"wrote {cfg['out']}")
    return result


def _model(cfg, vocab_size):
    return CharRNN(vocab_size, cfg["hidden"], cell_type=cfg["cell"], num_layers=cfg["layers"],
                   dropout=cfg["dropout"], dtype=np.dtype(cfg["dtype"]).type, seed=cfg["seed"])


def unit_search(cfg, log=print):
    """The trained (best checkpoint) and the untrained model's units against the features."""
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    piece = train_val_split(text)[1][: 2 * UNIT_CHARS]
    feats = interpret.text_features(piece)
    trained = _model(cfg, vocab.size)
    load_checkpoint(cfg["ckpt_dir"], "best", trained)
    acts = interpret.hidden_states(trained, vocab.encode(piece))
    found = interpret.search_units(acts, feats, UNIT_CHARS)
    untrained = interpret.search_units(
        interpret.hidden_states(_model(cfg, vocab.size), vocab.encode(piece)), feats,
        UNIT_CHARS)
    start = piece.index("\n\n", UNIT_CHARS + SHOW_FROM) + 2
    stop = piece.rindex("\n", start, start + SHOW_CHARS) + 1
    for name, row in found.items():
        row["untrained_r_heldout"] = untrained[name]["r_heldout"]
        row["layer"], row["index"] = divmod(row["unit"], cfg["hidden"])
        row["layer"] += 1
        row["shown"] = [round(float(a), 3) for a in acts[start:stop, row["unit"]]]
        log(f"unit {row['unit']:4d} ~ {name}: r = {row['r_heldout']:+.2f} held out "
            f"(untrained {row['untrained_r_heldout']:+.2f})")
    return {"chars_select": UNIT_CHARS, "chars_heldout": UNIT_CHARS,
            "features": interpret.FEATURES, "shown_text": piece[start:stop],
            "shown_start": start, "units": found}


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
