"""The producing code of a results file: which repository modules made it, by digest.

A results file made by a run stamped with `finish_header` (this module's, which wraps
`rnnlib.results.finish_header`) records `code`: every module under rnnlib/, rnntools/,
experiments/ or benchmarks/ the process had imported by the end of the run, with the first 16
hex digits of its SHA-256. `stale_code` names the files that differ today. The replay test
uses it for files whose runs cannot be replayed here (those made with PyTorch).

It is a module of its own, not part of rnnlib.results, so that adding it did not change the
code behind the results files made before it (rnnlib.results is imported by every run).
"""

import hashlib
import sys
from pathlib import Path

from rnnlib.results import RESULTS_DIR
from rnnlib.results import finish_header as _finish_header

REPO_ROOT = RESULTS_DIR.parent
# Folders whose Python files count as a run's producing code.
CODE_FOLDERS = ("rnnlib", "rnntools", "experiments", "benchmarks")


def file_digest(path):
    """The first 16 hex digits of the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _repo_code(path):
    """The path relative to the repository of a producing-code file, else None."""
    try:
        rel = Path(path).resolve().relative_to(REPO_ROOT)
    except ValueError:
        return None
    if rel.suffix != ".py" or rel.parts[0] not in CODE_FOLDERS:
        return None
    return rel.as_posix()


def code_fingerprint(modules=None):
    """The repository source files a process has imported, each with its digest.

    Inputs:
    - modules: a mapping like sys.modules (default: this process's).

    Returns {relative path: file_digest} for every imported module (the script run as
    __main__ included) under CODE_FOLDERS, sorted by path.
    """
    modules = sys.modules if modules is None else modules
    found = {}
    for module in list(modules.values()):
        rel = _repo_code(getattr(module, "__file__", None) or "")
        if rel:
            found[rel] = file_digest(REPO_ROOT / rel)
    return dict(sorted(found.items()))


def stale_code(fingerprint, root=None):
    """The files of a code fingerprint that differ from (or are missing in) the tree at root.

    Returns a list of relative paths; empty when the producing code is unchanged.
    """
    root = Path(root) if root is not None else REPO_ROOT
    return [rel for rel, digest in fingerprint.items()
            if not (root / rel).is_file() or file_digest(root / rel) != digest]


def finish_header(result, note=None):
    """`rnnlib.results.finish_header`, and `result["code"] = code_fingerprint()`."""
    _finish_header(result, note)
    result["code"] = code_fingerprint()
    return result
