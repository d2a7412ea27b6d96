"""Uni- against bidirectional, one against two layers, on a task that needs the future.

The task (rnnlib.tagging): label every character with the mark ('.', '?' or '!') that will
close its sentence. Four GRU taggers (rnnlib.models.tagger), each trained with three seeds
for the same steps on the same stream of batches: unidirectional with one and with two layers,
bidirectional with one and with two. Accuracy is measured on one fixed test batch, overall and
by the distance from a position to its sentence's mark. Chapter 9 shows the table and the plot.

    python -m experiments.tagging              # writes results/tagging.json
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlib import tagging
from rnnlib.models.tagger import SequenceTagger
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.training import Model, Trainer

CONFIG = {"cell": "gru", "hidden_dim": 32, "wordvec_dim": 16, "seq_len": 32, "batch_size": 32,
          "steps": 300, "lr": 5e-3, "clip": 5.0, "test_size": 512, "max_distance": 20,
          "record_first": 5}
MODELS = {"uni-1": (False, 1), "uni-2": (False, 2), "bi-1": (True, 1), "bi-2": (True, 2)}
SEEDS = (0, 1, 2)
SUPPORTS_RESUME = False


def make_model(name, cfg, seed):
    bidirectional, layers = MODELS[name]
    return SequenceTagger(len(tagging.VOCAB), tagging.NUM_CLASSES, cfg["hidden_dim"],
                          cell_type=cfg["cell"], num_layers=layers, bidirectional=bidirectional,
                          wordvec_dim=cfg["wordvec_dim"], seed=seed)


def train(name, cfg, seed, stop_at=None):
    """Train one model; returns (model, trainer). The batches come from seed [seed, 1]."""
    model = make_model(name, cfg, seed)

    def batches(rng):
        return tagging.sentence_batch(rng, cfg["batch_size"], cfg["seq_len"])

    trainer = Trainer(Model(model.params, model.loss), batches, num_steps=cfg["steps"],
                      update_rule="adam", optim_config={"learning_rate": cfg["lr"]},
                      clip_norm=cfg["clip"], clock="cpu", seed=[seed, 1],
                      record_first=cfg["record_first"]).run(stop_at=stop_at)
    return model, trainer


def positions_by_distance(test, max_distance):
    """How many counted test positions lie at each distance 0..max_distance to the mark."""
    _, _, mask, dist = test
    return [int((mask & (dist == d)).sum()) for d in range(max_distance + 1)]


def accuracy_by_distance(model, test, max_distance):
    """Overall accuracy, and accuracy at each distance 0..max_distance to the mark."""
    x, y, mask, dist = test
    right = (model.predict(x) == y) & mask
    by = [float(right[mask & (dist == d)].mean()) if (mask & (dist == d)).any() else None
          for d in range(max_distance + 1)]
    return float(right.sum() / mask.sum()), by


def run(out="results/tagging.json", log=print, **over):
    cfg = {**CONFIG, **over}
    result = run_header("tagging/1", SEEDS[0])
    test = tagging.sentence_batch(np.random.default_rng(999), cfg["test_size"],
                                  cfg["seq_len"], with_distance=True)
    models = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name in MODELS:
            rows = []
            for seed in SEEDS:
                model, trainer = train(name, cfg, seed)
                acc, by = accuracy_by_distance(model, test, cfg["max_distance"])
                rows.append({"seed": seed, "accuracy": acc, "by_distance": by,
                             "final_loss": float(np.mean(trainer.loss_history[-50:])),
                             "time_s": round(trainer.elapsed, 2),
                             "first_losses": trainer.first_losses})
                log(f"{name} seed {seed}: test accuracy {acc:.3f}, "
                    f"{trainer.elapsed:.1f} CPU s")
            models[name] = {"params": int(sum(v.size for v in model.params.values())),
                            "bidirectional": MODELS[name][0], "layers": MODELS[name][1],
                            "runs": rows}
    result.update({"config": cfg, "seeds": list(SEEDS), "models": models,
                   "task": "label each character with the mark closing its sentence "
                           "(rnnlib.tagging)",
                   "chance": 1 / tagging.NUM_CLASSES,
                   "positions_by_distance": positions_by_distance(test, cfg["max_distance"])})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    """Every run's first recorded losses, trained again. Returns (label, recorded, replayed)."""
    cfg, checks = result["config"], []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, entry in result["models"].items():
            for row in entry["runs"]:
                _, trainer = train(name, cfg, row["seed"], stop_at=len(row["first_losses"]))
                checks.append((f"{name} seed {row['seed']}: first losses",
                               row["first_losses"], trainer.first_losses))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/tagging.json")
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    args = ap.parse_args(argv)
    run(args.out, steps=args.steps)


if __name__ == "__main__":
    main()
