"""One checkpoint format for every training run: ``<name>.npz`` beside ``<name>.json``.

A checkpoint is a nested dict ("tree"). Its arrays go to the npz, keyed by their path in the
tree (``param/W``, ``optim/W/m``, ``state/h``); everything else goes to the JSON, with the
format name, the npz's file name and its SHA-256. Both files are written atomically, the npz
first, so a JSON file always describes a complete npz, and the hash tells a pair torn by a
crash between the two writes. `rnnlib.training.Trainer` writes what an exact resume needs
(parameters, optimizer state, random generators, data position, carried state, histories,
its callbacks' state); a params-only tree (``{"param": ...}``) is a model to load.
"""

import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

from rnnlib.results import atomic_write_bytes

__all__ = ["FORMAT", "checkpoint_files", "copy_params", "exists", "load", "load_params", "save"]

FORMAT = "rnnlib-checkpoint"
VERSION = 1


def checkpoint_files(path):
    """The (npz, json) pair of paths for a checkpoint named ``path`` (with or without .npz)."""
    path = Path(path)
    if path.suffix in (".npz", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")


def exists(path):
    """True when the checkpoint ``path`` has been written (its JSON file exists)."""
    return checkpoint_files(path)[1].exists()


def _jsonable(value):
    """NumPy scalars as Python numbers, tuples as lists; floats keep NaN/inf (exact resume)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def split_arrays(tree, prefix=""):
    """Separate the arrays of a nested dict from the rest.

    Returns (arrays, rest): arrays maps 'a/b/c' paths to the NumPy arrays of the tree; rest is
    the tree without them (dicts that held only arrays stay, empty).
    """
    arrays, rest = {}, {}
    for key, value in tree.items():
        if "/" in str(key):
            raise ValueError(f"checkpoint keys cannot contain '/': {prefix}{key!r}")
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}{key}"] = value
        elif isinstance(value, dict):
            sub_arrays, rest[key] = split_arrays(value, f"{prefix}{key}/")
            arrays.update(sub_arrays)
        else:
            rest[key] = value
    return arrays, rest


def join_arrays(rest, arrays):
    """Inverse of `split_arrays`: put every array back at its path."""
    for path, value in arrays.items():
        *parents, leaf = path.split("/")
        node = rest
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return rest


def save(path, tree):
    """Write the checkpoint ``path`` (``.npz`` + ``.json``) holding ``tree``; returns the npz."""
    npz_path, json_path = checkpoint_files(path)
    arrays, rest = split_arrays(tree)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    npz_bytes = buf.getvalue()
    meta = {"format": FORMAT, "version": VERSION, "npz": npz_path.name,
            "npz_sha256": hashlib.sha256(npz_bytes).hexdigest(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **_jsonable(rest)}
    atomic_write_bytes(npz_path, npz_bytes)
    atomic_write_bytes(json_path, json.dumps(meta, indent=1).encode())
    return npz_path


def load(path):
    """The tree of the checkpoint ``path`` (arrays included), after checking its pair."""
    npz_path, json_path = checkpoint_files(path)
    meta = json.loads(json_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{json_path} is not an rnnlib checkpoint")
    npz_bytes = npz_path.read_bytes()
    if hashlib.sha256(npz_bytes).hexdigest() != meta["npz_sha256"]:
        raise ValueError(f"{npz_path} does not match {json_path} (interrupted write?)")
    with np.load(io.BytesIO(npz_bytes)) as z:
        arrays = {k: z[k] for k in z.files}
    return join_arrays(meta, arrays)


def copy_params(saved, params):
    """Copy the arrays of ``saved`` into the dict ``params`` (same names and shapes, its dtypes).

    Raises ValueError naming the difference when the names or a shape differ.
    """
    if set(saved) != set(params):
        raise ValueError(
            f"checkpoint parameters {sorted(saved)} do not match the model's {sorted(params)}")
    for k in params:
        w = saved[k]
        if w.shape != params[k].shape:
            raise ValueError(f"checkpoint parameter {k} has shape {w.shape}, the model's is "
                             f"{params[k].shape}")
        params[k] = w.astype(params[k].dtype, copy=False)


def load_params(path, model):
    """Load the parameters of the checkpoint ``path`` into ``model.params``; returns the tree."""
    tree = load(path)
    copy_params(tree["param"], model.params)
    return tree
