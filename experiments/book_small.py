"""Small precomputed results for chapters 1-4 of the book (seconds to run, not minutes).

    python -m experiments.book_small            # writes results/book_bigram.json

The count-based bigram character model is an exercise of chapter 1, so the book does not show
the counting: it loads the table written here and only evaluates it. The file follows the
common fields of results/README.md (schema, command, git_rev, seed, date, machine).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rnnlib.data import CharVocab, load_tinyshakespeare, train_val_split
from rnnlib.train import finish_header, run_header, write_json

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "book_bigram.json"
ALPHA = 1.0  # add-one (Laplace) smoothing: an unseen pair still gets a probability


def transition_counts(ids: np.ndarray, V: int) -> np.ndarray:
    """counts[a, b] = how often id b follows id a in ids (an int64 array of shape (V, V))."""
    pairs = ids[:-1] * V + ids[1:]
    return np.bincount(pairs, minlength=V * V).reshape(V, V)


def nll_per_char(counts: np.ndarray, ids: np.ndarray, alpha: float) -> float:
    """Mean negative log-likelihood (nats) of ids[1:] under the smoothed bigram model."""
    V = counts.shape[0]
    probs = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)
    return float(-np.log(probs[ids[:-1], ids[1:]]).mean())


def bigram(command: str | None = None) -> dict:
    result = run_header("book_bigram/1", seed=0, command=command)
    text = load_tinyshakespeare()
    vocab = CharVocab(text)
    train, val = train_val_split(text, 0.9)
    tr, va = vocab.encode(train), vocab.encode(val)
    V = vocab.size
    counts = transition_counts(tr, V)
    unigram = np.bincount(tr, minlength=V) + ALPHA
    unigram = unigram / unigram.sum()
    losses = {
        "uniform": math.log(V),
        "unigram_val": float(-np.log(unigram[va]).mean()),
        "bigram_train": nll_per_char(counts, tr, ALPHA),
        "bigram_val": nll_per_char(counts, va, ALPHA),
    }
    result.update(
        {
            "alpha": ALPHA,
            "chars": vocab.chars,
            "train_chars": len(train),
            "val_chars": len(val),
            "counts": counts.tolist(),
            "loss_nats": losses,
            "bpc": {k: v / math.log(2) for k, v in losses.items()},
            "perplexity": {k: math.exp(v) for k, v in losses.items()},
        }
    )
    return finish_header(result, note="counting only; a second or so on one core")


def main() -> None:
    write_json(str(OUT), bigram(command="python -m experiments.book_small"))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
