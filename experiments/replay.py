"""Replays: rerun the first recorded steps behind every results file and compare them.

    python -m experiments.replay                 # every file made with rnnlib
    python -m experiments.replay cells.json      # one file
    python -m experiments.replay --torch         # the PyTorch files (`make bench`)

Every training run records the losses of its first K steps at full precision
(`first_losses`, see results/README.md), and its learning-rate schedule follows the step
index, so rerunning those K steps from the recorded config and seed must give the same
losses bit for bit (at one BLAS thread, on the same machine). A change to rnnlib or to an
experiment that would change a result changes them, and the replay test
(tests/test_results_replay.py) fails until the result is made again.

Each results file names its replay here: a JSON file by the module whose
`replay(result, results_dir)` returns a list of (label, recorded, replayed); a file made
with PyTorch by a check of its code fingerprint (the test) and a rerun with PyTorch
(`--torch`, needs requirements-bench); an npz file by the JSON file that records its digest.
"""

import argparse
import ast
import importlib
import importlib.util
import re
import subprocess
import sys
import time

import numpy as np

from rnnlib import scenes
from rnnlib.provenance import REPO_ROOT, file_digest, stale_code
from rnnlib.results import RESULTS_DIR, read_json

# results file -> the module whose replay() reruns its first steps
REPLAYS = {
    "book_gated_timing.json": "experiments.book_gated",
    "captioning.json": "experiments.replay:replay_captioning",
    "captioning_nopenalty.json": "experiments.replay:replay_captioning",
    "cells.json": "experiments.cells",
    "charlm.json": "experiments.replay",
    "clipping.json": "experiments.clipping",
    "copy_task.json": "experiments.copy_task",
    "gradnorm.json": "experiments.gradnorm",
    "rnn_dropout.json": "experiments.rnn_dropout",
    "seq2seq.json": "experiments.seq2seq",
    "tagging.json": "experiments.tagging",
    "wordlm.json": "experiments.wordlm",
}
# files made with PyTorch: their code fingerprint is checked by the test, their replay runs
# under `make bench`
TORCH = ("charlm_torch.json",)
# binary files: the results file that records {"file", "digest"} for them, and where
COMPANIONS = {
    "captioning_encoder.npz": ("captioning.json", ("encoder",)),
    "captioning_attention.npz": ("captioning.json", ("attention_file",)),
    "captioning_attention_nopenalty.npz": ("captioning_nopenalty.json", ("attention_file",)),
}


def replay(result, results_dir=None):
    """charlm.json (issue 16's long run, experiments/charlm.py): its recorded settings
    rerun for the recorded first steps. Validation and samples do not touch the training
    generators, so they are cut to a few characters to keep the replay short."""
    from rnnlib.train import train_charlm

    K = len(result["first_losses"])
    again = train_charlm({**result["settings"], "stop_at": K, "out": None, "ckpt_dir": None,
                          "resume": False, "progress": False, "val_chars": 2_000,
                          "sample_len": 10}, log=lambda message: None)
    return [("first losses", result["first_losses"], again["first_losses"])]


def replay_file(name, folder=RESULTS_DIR):
    """The (label, recorded, replayed) checks of results file `name` (see REPLAYS: a module,
    whose replay() is used, or module:function)."""
    module, _, function = REPLAYS[name].partition(":")
    replayer = getattr(importlib.import_module(module), function or "replay")
    return replayer(read_json(folder / name), results_dir=str(folder))


_FEATURES = {}


def _run_features(enc, cfg, idx, chunk=500):
    """The training features of the scenes `idx` as the run computed them: SceneEncoder.encode
    works in chunks of 500 images, and a matrix product of another shape can differ in the
    last bits, so every chunk holding one of them is encoded whole, as in the run."""
    n = cfg["n_train"]
    vec = grid = None
    for c in sorted({int(i) // chunk for i in idx}):
        lo, hi = c * chunk, min(n, (c + 1) * chunk)
        sub = scenes.generate_scenes(0, seed=cfg["seed"], split="train",
                                     image_size=cfg["image_size"], indices=range(lo, hi))
        v, g = enc.encode(sub["images"], batch_size=chunk)
        if vec is None:
            vec = np.zeros((n, *v.shape[1:]), v.dtype)
            grid = np.zeros((n, *g.shape[1:]), g.dtype)
        vec[lo:hi], grid[lo:hi] = v, g
    return {"train_vec": vec, "train_grid": grid}


def replay_captioning(result, results_dir=RESULTS_DIR):
    """A captioning file's replay (experiments.captioning.replay's checks) with the captioners'
    features computed chunk by chunk as in the run."""
    import os

    from threadpoolctl import threadpool_limits

    from experiments import captioning as C

    cfg, enc_report = result["config"], result["encoder"]
    n, ecfg = cfg["n_train"], cfg["encoder"]
    path = os.path.join(results_dir, enc_report["file"])
    checks = [("stored encoder file", enc_report["digest"], file_digest(path))]
    with threadpool_limits(limits=1, user_api="blas"):
        K = len(enc_report["first_losses"])
        data = C.sparse_scenes(n, C.first_indices(n, ecfg["batch_size"], cfg["seed"], K,
                                                  sort=True), cfg)
        hist = C.train_encoder(C.make_encoder(cfg), data, ecfg["epochs"], ecfg["batch_size"],
                               ecfg["lr"], seed=cfg["seed"], log=None, stop_at=K)
        checks.append(("encoder", enc_report["first_losses"], hist["first_losses"]))
        enc = C.make_encoder(cfg)
        enc.params.update(C.load_stored_encoder(path, C.encoder_key(cfg))[0])
        word_to_idx, _ = scenes.build_vocab()
        runs = [(cell, r) for cell in result["order"] for r in result["cells"][cell]["runs"]]
        firsts = {id(r): np.unique(C.first_indices(
            n, cfg["captioner"]["batch_size"], r["seed"], len(r["first_losses"]),
            choices=scenes.NUM_TEMPLATES)) for _, r in runs}
        key = (enc_report["digest"], tuple(np.unique(np.concatenate(list(firsts.values())))))
        if key not in _FEATURES:   # one encoding for every run (and file) of this encoder
            _FEATURES.clear()
            _FEATURES[key] = _run_features(enc, cfg, np.asarray(key[1]))
        for cell, r in runs:
            K, idx = len(r["first_losses"]), firsts[id(r)]
            tr = C.cell_inputs(cell, cfg, _FEATURES[key], "train")
            ids = scenes.encode_captions(C.sparse_scenes(n, idx, cfg)["captions"],
                                         word_to_idx, scenes.max_caption_length())
            model = C.make_captioner(cell, cfg, tr.shape[1], word_to_idx, r["seed"])
            again = C.train_captioner(model, tr, ids, cfg["captioner"], r["seed"], log=None,
                                      stop_at=K)
            checks.append((f"{cell} seed {r['seed']}", r["first_losses"], again["first_losses"]))
    return checks


def mismatches(checks):
    """The checks whose replayed values differ from the recorded ones, as readable lines."""
    bad = []
    for label, recorded, replayed in checks:
        if recorded != replayed:
            bad.append(f"{label}: recorded {recorded!r}, replayed {replayed!r}")
    return bad


def companion_digest(name, folder=RESULTS_DIR):
    """(recorded digest, digest of the file now) of a binary companion file."""
    owner, keys = COMPANIONS[name]
    entry = read_json(folder / owner)
    for key in keys:
        entry = entry[key]
    if entry["file"] != name:
        raise ValueError(f"{owner} records {entry['file']}, not {name}")
    return entry["digest"], file_digest(folder / name)


def torch_code_changes(name, folder=RESULTS_DIR):
    """The producing-code files of a PyTorch results file that changed since it was made.

    From the file's code fingerprint (`code`, rnnlib.provenance) when it records one; else
    from git: the script its command names and the repository modules that script imports
    (transitively), at the recorded revision against the files today. None when neither
    can tell (no fingerprint, and no script or revision to follow).
    """
    result = read_json(folder / name)
    if "code" in result:
        return stale_code(result["code"])
    script = re.search(r"(benchmarks/[\w/]+\.py)", result.get("command", ""))
    rev = result.get("git_rev", "").split("-dirty")[0]
    if not script or not re.fullmatch(r"[0-9a-f]{7,40}", rev):
        return None
    if not revision_in_history(rev):
        return None
    changed = []
    for rel in sorted(imported_code(script.group(1))):
        old = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=REPO_ROOT,
                             capture_output=True)
        if old.returncode != 0 or old.stdout != (REPO_ROOT / rel).read_bytes():
            changed.append(rel)
    return changed


def revision_in_history(rev):
    """Whether a revision is a commit this checkout's HEAD descends from (a results file's
    revision must be: a clone of main alone has no other commit to compare with)."""
    found = subprocess.run(["git", "merge-base", "--is-ancestor", rev, "HEAD"],
                           cwd=REPO_ROOT, capture_output=True)
    return found.returncode == 0


def _module_file(name):
    base = REPO_ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path.relative_to(REPO_ROOT).as_posix()
    return None


def imported_code(script):
    """The repository files a script imports, transitively (absolute imports of rnnlib,
    rnntools, experiments and benchmarks, with their packages' __init__), the script too."""
    seen, todo = set(), [script]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        for node in ast.walk(ast.parse((REPO_ROOT / rel).read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                parts = name.split(".")
                if parts[0] not in ("rnnlib", "rnntools", "experiments", "benchmarks"):
                    continue
                for i in range(1, len(parts) + 1):
                    found = _module_file(".".join(parts[:i]))
                    if found and found not in seen:
                        todo.append(found)
    return seen


def _load_benchmark():
    path = REPO_ROOT / "benchmarks" / "charlm_torch.py"
    spec = importlib.util.spec_from_file_location("charlm_torch_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replay_torch(name, folder=RESULTS_DIR):
    """Rerun the first recorded steps of benchmarks/charlm_torch.py's run, in the order its
    main() takes them (seed, streams, model, then training steps)."""
    import torch

    from rnnlib.data import StreamBatches

    bench = _load_benchmark()
    result = read_json(folder / name)
    args = bench.parse_args([])
    for key, value in result["settings"].items():
        setattr(args, key, value)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    chars, train_ids, val = bench.load_streams(args)
    run = bench.Run(args, chars, val)
    batches = StreamBatches(train_ids, args.seq)
    K = len(result["first_losses"])
    for _ in range(K):
        run.train_step(batches())
    return [("first losses", result["first_losses"], run.losses[:K])]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"results files (default: all of {sorted(REPLAYS)})")
    ap.add_argument("--torch", action="store_true", help=f"replay {', '.join(TORCH)} instead")
    args = ap.parse_args(argv)
    names = args.names or (list(TORCH) if args.torch else sorted(REPLAYS))
    failed = 0
    for name in names:
        if not (RESULTS_DIR / name).exists():
            print(f"{name}: not made yet")
            continue
        t0 = time.perf_counter()
        checks = replay_torch(name) if name in TORCH else replay_file(name)
        bad = mismatches(checks)
        failed += bool(bad)
        print(f"{name}: {len(checks) - len(bad)} of {len(checks)} replays agree "
              f"({time.perf_counter() - t0:.1f} s)")
        for line in bad:
            print("  " + line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
