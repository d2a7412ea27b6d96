"""Results files: what every experiment, benchmark and chapter shares about results/*.json.

A run starts its results dict with `run_header` (schema, command, git revision, seed, load)
and stamps it with `finish_header`; `write_json` writes it atomically. A chapter calls
`load_results(name)`, which prints where the file came from (the command and revision that
made it, or of every part of a merged file) and returns it. results/README.md describes the
layouts.

It lives in rnnlib, not beside results/, because chapters, experiments and benchmarks all
import rnnlib already, a top-level package would collide with the results/ folder, and the
book's execution cache is keyed on rnnlib's source.
"""

import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def git_revision():
    """Return `git rev-parse HEAD` of the working tree ('-dirty' appended if it has changes).

    Returns 'unknown' outside a git checkout, so a run never fails for bookkeeping.
    """
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def loadavg():
    """The 1, 5 and 15 minute load averages as a list of floats (empty where unsupported)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def command_line():
    """The command that started this process, as one shell-quoted string."""
    prog = sys.argv[0]
    if prog.endswith(("__main__.py", ".py")) and os.sep in prog:
        # `python -m pkg.mod` shows up as a path; record the -m form people type.
        rel = os.path.relpath(prog)
        if not rel.startswith(".."):
            mod = rel[:-3].replace(os.sep, ".")
            if mod.endswith(".__main__"):
                mod = mod[: -len(".__main__")]
            if mod.split(".")[0] in ("rnnlib", "experiments"):
                return shlex.join(["python", "-m", mod, *sys.argv[1:]])
        return shlex.join(["python", rel, *sys.argv[1:]])
    return shlex.join(["python", *sys.argv])


def run_header(schema, seed, command=None):
    """The fields every results file starts with (see results/README.md).

    Inputs:
    - schema: str, layout name and version, e.g. 'charlm/1'
    - seed: int, the seed of the run
    - command: str or None; None records this process's command line
    """
    return {
        "schema": schema,
        "command": command if command is not None else command_line(),
        "git_rev": git_revision(),
        "seed": int(seed),
        "date": None,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg(), "loadavg_end": None,
                    "note": ""},
    }


def finish_header(result, note=None):
    """Stamp the end time and load of a results dict made by `run_header`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    result["date"] = now.replace(microsecond=0).isoformat()
    result["machine"]["loadavg_end"] = loadavg()
    start = result["machine"]["loadavg_start"] or [0.0]
    end = result["machine"]["loadavg_end"] or [0.0]
    load = max(start[0], end[0])
    cpus = result["machine"]["cpus"] or 1
    auto = (f"load average {load:.1f} on {cpus} cores: "
            + ("machine busy, wall-clock figures are pessimistic" if load > 0.75 * cpus
               else "machine mostly idle"))
    result["machine"]["note"] = auto if note is None else f"{auto}; {note}"
    return result


def part_headers(results):
    """The provenance of every run behind the results dicts `results` (a merged one's parts).

    Returns a list of {"command", "git_rev", "date", "machine"}, one per run.
    """
    runs = [p for r in results for p in (r.get("parts") or [r])]
    return [{"command": p["command"], "git_rev": p["git_rev"], "date": p["date"],
             "machine": p["machine"]} for p in runs]


def merged_header(parts):
    """The header of a file joined from results dicts `parts`: the first part's, plus 'parts'.

    Each entry of 'parts' keeps one run's command, revision, date and machine, so a merged
    file names every run that made it (a part that was merged itself gives all of its own).
    """
    result = dict(parts[0])
    result.pop("partial", None)
    result["parts"] = part_headers(parts)
    return result


def _clean(obj):
    """Make NumPy scalars and non-finite floats JSON-safe (NaN/inf become null)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the
    file is then renamed over ``path`` with ``os.replace`` (atomic on POSIX).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):  # only when the write failed: a renamed file is gone
            os.unlink(tmp)


def write_json(path, obj):
    """Write `obj` as JSON atomically (NumPy values converted, NaN/inf as null).

    Floats keep their full precision (JSON numbers are written with repr), so losses
    recorded for a replay read back bit for bit.
    """
    text = json.dumps(_clean(obj), indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path):
    """The JSON object in `path`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def subsample(n, max_points):
    """Indices of at most `max_points` of range(n), always keeping the first and the last."""
    if n <= max_points:
        return list(range(n))
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return idx.tolist()


def subsample_curve(curve, max_points=200):
    """Subsample every list of a curve dict (all the same length) to at most `max_points`."""
    keys = list(curve)
    n = len(curve[keys[0]]) if keys else 0
    idx = subsample(n, max_points)
    return {k: [curve[k][i] for i in idx] for k in keys}


def resumable(path, config):
    """The partial results in `path` if a run with this `config` can continue from them.

    Returns the results dict when `path` holds a file marked 'partial' whose 'config' equals
    `config` (after a JSON round trip, so tuples and lists compare equal), else None.
    """
    if not os.path.exists(path):
        return None
    old = read_json(path)
    if not old.get("partial") or old.get("config") != json.loads(json.dumps(_clean(config))):
        return None
    return old


def provenance(result, width=88):
    """Lines saying which command(s) at which revision(s) made a results dict.

    Each run gives its command (wrapped shell-style to `width` columns, so it fits a book
    page), its revision and date, and the machine's load note.
    """
    def one(part):
        words = textwrap.wrap(part["command"], width - 6, break_long_words=False,
                              break_on_hyphens=False)
        when = (part["date"] or "unfinished")[:10]
        note = textwrap.wrap(part["machine"]["note"], width - 4)
        return ["  " + " \\\n    ".join(words),
                f"    at revision {part['git_rev'][:10]}, {when}",
                *("    " + line for line in note)]

    parts = result.get("parts")
    if not parts:
        return ["made by"] + one(result)
    return [f"made by {len(parts)} runs, merged:"] + [ln for p in parts for ln in one(p)]


def load_results(name, *fallbacks, folder=None):
    """Load results/`name` (or the first of `fallbacks` that exists) and print its provenance.

    Inputs:
    - name: file name inside the results folder, e.g. 'cells.json'
    - fallbacks: file names to use instead when `name` has not been made
    - folder: the results folder (default: results/ of the repository holding rnnlib)

    Returns the results dict, or None (with a message saying how to make it) if no file exists.
    """
    folder = Path(folder) if folder is not None else RESULTS_DIR
    for i, candidate in enumerate((name, *fallbacks)):
        path = folder / candidate
        if not path.exists():
            continue
        result = read_json(path)
        lines = provenance(result)
        if i:
            print(f"results/{name} is missing; using results/{candidate} instead.")
        print(f"results/{candidate}: " + lines[0])
        for line in lines[1:]:
            print(line)
        return result
    print(f"results/{name} has not been produced on this checkout yet: `make results` makes "
          "it (`python -m experiments.all NAME` makes one experiment's files).")
    return None
