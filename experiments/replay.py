"""Replays: rerun the first recorded steps behind every results file and compare them.

    python -m experiments.replay                 # every file made with rnnlib
    python -m experiments.replay cells.json      # one file
    python -m experiments.replay --torch         # the PyTorch files (`make bench`)

Every training run records the losses of its first K steps at full precision
(`first_losses`, see results/README.md), and its learning-rate schedule follows the step
index, so rerunning those K steps from the recorded config and seed must give the same
losses bit for bit (at one BLAS thread, under the same BLAS kernels). A change to rnnlib or
to an experiment that would change a result changes them, and the replay test
(tests/test_results_replay.py) fails until the result is made again.

OpenBLAS's kernels differ between CPUs (rnnlib.blas), and CI's machine is not always of one
kind, so `verdict` compares a replay in one of three ways:
1. under the kernels the file was made with (`machine.blas_kernel`; OLDER_FILES_KERNEL for
   files older than that field): with the file's own first losses, bit for bit;
2. under other kernels, for which `--record` stored this file's replay in
   results/kernel_replays.json: with that record, bit for bit. `--record` stores one only
   while the code the file's command imports is the code that made it (as at the file's
   revision), so the record is what that code gives under these kernels;
3. otherwise: with the file's own first losses to ROUNDING_RTOL, a bound on what the other
   kernels' rounding does in a few steps (about 1e-9 in float64 and 3e-6 in float32,
   measured); training that amplifies rounding (clipping.json's exploding runs) fails
   this and needs a record.

    python -m experiments.replay --record        # record this machine's kernels' replays

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
from threadpoolctl import threadpool_limits

from rnnlib import scenes
from rnnlib.blas import blas_kernel
from rnnlib.provenance import REPO_ROOT, file_digest, stale_code
from rnnlib.results import (
    RESULTS_DIR,
    finish_header,
    git_revision,
    read_json,
    run_header,
    write_json,
)

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
# the replays recorded under other kernels than made the files (see the module docstring)
KERNEL_REPLAYS = "kernel_replays.json"
#: The kernels of files made before results files recorded theirs: what OpenBLAS picked by
#: itself on the AVX-512 machine that made them.
OLDER_FILES_KERNEL = "SkylakeX"
#: Way 3's bound, relative to the recorded loss: ten times the largest difference measured
#: between Haswell's and SkylakeX's kernels over the first steps of the files that do not
#: amplify rounding (3.2e-6, captioning_nopenalty.json's float32 attention run).
ROUNDING_RTOL = 3e-5


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
    whose replay() is used, or module:function), at one BLAS thread as every run was made."""
    module, _, function = REPLAYS[name].partition(":")
    replayer = getattr(importlib.import_module(module), function or "replay")
    with threadpool_limits(limits=1, user_api="blas"):
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
    features computed chunk by chunk as in the run (one BLAS thread: `replay_file`)."""
    import os

    from experiments import captioning as C

    cfg, enc_report = result["config"], result["encoder"]
    n, ecfg = cfg["n_train"], cfg["encoder"]
    path = os.path.join(results_dir, enc_report["file"])
    checks = [("stored encoder file", enc_report["digest"], file_digest(path))]
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


def mismatches(checks, rtol=0.0):
    """The checks whose replayed values differ from the recorded ones, as readable lines:
    any difference, or with rtol > 0 one larger than rtol times the recorded value (labels
    and digests are always compared exactly)."""
    return [f"{label}: recorded {recorded!r}, replayed {replayed!r}"
            for label, recorded, replayed in checks
            if recorded != replayed and not (rtol and _close(recorded, replayed, rtol))]


def _close(recorded, replayed, rtol):
    try:
        a, b = np.asarray(recorded, float), np.asarray(replayed, float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.abs(a)))


def made_with(result):
    """The BLAS kernels a results file was made with (every part's, '+'-joined)."""
    kernels = {(part.get("machine") or {}).get("blas_kernel") or OLDER_FILES_KERNEL
               for part in (result.get("parts") or [result])}
    return "+".join(sorted(kernels))


def kernel_records(folder=RESULTS_DIR):
    """{kernel: {results file: {"digest", "git_rev", "checks": [[label, values], ...]}}}."""
    path = folder / KERNEL_REPLAYS
    return read_json(path)["kernels"] if path.exists() else {}


def verdict(name, checks, folder=RESULTS_DIR, kernel=None, rounding=False):
    """How the replay `checks` of results file `name` compare, run under BLAS kernels
    `kernel` (default: this process's): (mismatch lines, how they were compared). The
    three ways are the module docstring's; rounding=True takes the third whatever the
    kernels (its test)."""
    kernel = kernel or blas_kernel()
    result = read_json(folder / name)
    made = made_with(result)
    if kernel == made and not rounding:
        return mismatches(checks), f"bit for bit under the {kernel} kernels it was made with"
    record = kernel_records(folder).get(kernel, {}).get(name)
    stale = record is not None and record["digest"] != file_digest(folder / name)
    if record and not stale and not rounding:
        stored = dict(record["checks"])
        return (mismatches([(label, stored.get(label, "(not recorded)"), again)
                            for label, _, again in checks]),
                f"bit for bit with its replay recorded under the {kernel} kernels "
                f"(made with {made}'s)")
    why = ("its record there is for an older file" if stale else "none is recorded there")
    return (mismatches(checks, rtol=ROUNDING_RTOL),
            f"to {ROUNDING_RTOL:g} of each loss: made with the {made} kernels, run under "
            f"{kernel}'s, and {why} (python -m experiments.replay --record {name})")


def code_changes_since(result):
    """The files the commands behind a results file import (transitively) that changed since
    the revision each part records: [] when the code is the code that made it, None when a
    command names no experiment module or a revision is not in HEAD's history."""
    changed = set()
    for part in result.get("parts") or [result]:
        module = re.search(r"-m (experiments\.\w+)", part.get("command", ""))
        rev = _followable(part.get("git_rev", ""))
        if not module or not rev:
            return None
        changed.update(_changed_since(rev, imported_code(_module_file(module.group(1)))))
    return sorted(changed)


def _changed_since(rev, files):
    """The repository files among `files` whose bytes at revision `rev` differ from today's."""
    changed = []
    for rel in sorted(files):
        old = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=REPO_ROOT,
                             capture_output=True)
        if old.returncode != 0 or old.stdout != (REPO_ROOT / rel).read_bytes():
            changed.append(rel)
    return changed


def record(names, folder=RESULTS_DIR, log=print):
    """Store the replays of results files `names` under this process's kernels in
    KERNEL_REPLAYS (way 2), for files made under other kernels whose code is unchanged;
    returns the names it could not record."""
    kernel, refused = blas_kernel(), []
    kernels = kernel_records(folder)
    mine = kernels.setdefault(kernel, {})
    for name in names:
        result = read_json(folder / name)
        if made_with(result) == kernel:
            mine.pop(name, None)
            log(f"{name}: made with the {kernel} kernels, replays against itself")
            continue
        changed = code_changes_since(result)
        if changed != []:
            refused.append(name)
            log(f"{name}: not recorded: " + ("its command or revision cannot be followed"
                                             if changed is None else
                                             f"its code changed since it was made: {changed}"))
            continue
        checks = replay_file(name, folder)
        mine[name] = {"digest": file_digest(folder / name), "git_rev": git_revision(),
                      "checks": [[label, again] for label, _, again in checks]}
        log(f"{name}: recorded {len(checks)} replays under the {kernel} kernels")
    out = run_header("kernel_replays/1", seed=0)
    out["kernels"] = {k: dict(sorted(v.items())) for k, v in sorted(kernels.items()) if v}
    write_json(folder / KERNEL_REPLAYS, finish_header(out))
    return refused


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
    rev = _followable(result.get("git_rev", ""))
    if not script or not rev:
        return None
    return _changed_since(rev, imported_code(script.group(1)))


def _followable(rev):
    """A results file's revision without '-dirty', or None when it names no commit of HEAD's
    history (nothing to compare the code with)."""
    rev = rev.split("-dirty")[0]
    return rev if re.fullmatch(r"[0-9a-f]{7,40}", rev) and revision_in_history(rev) else None


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
    ap.add_argument("--record", action="store_true",
                    help=f"store the replays under this machine's kernels in {KERNEL_REPLAYS}")
    ap.add_argument("--rounding", action="store_true",
                    help=f"compare to {ROUNDING_RTOL:g} of each loss whatever the kernels")
    args = ap.parse_args(argv)
    names = args.names or (list(TORCH) if args.torch else sorted(REPLAYS))
    if args.record:
        sys.exit(1 if record(names) else 0)
    failed = 0
    for name in names:
        if not (RESULTS_DIR / name).exists():
            print(f"{name}: not made yet")
            continue
        t0 = time.perf_counter()
        if name in TORCH:
            checks = replay_torch(name)
            bad, how = mismatches(checks), "bit for bit"
        else:
            checks = replay_file(name)
            bad, how = verdict(name, checks, rounding=args.rounding)
        failed += bool(bad)
        print(f"{name}: {len(checks) - len(bad)} of {len(checks)} replays agree, {how} "
              f"({time.perf_counter() - t0:.1f} s)")
        for line in bad:
            print("  " + line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
