"""What every stage shares for writing: the grader's own error, atomic writes, JSON."""

import json
import os
import tempfile
from pathlib import Path


class GraderError(Exception):
    """The grader could not do its job (exit code 2)."""


def atomic_write(path, data):
    """Write `data` (str or bytes) to `path` so that a kill leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder):
    """Delete what atomic_write leaves behind when a run is killed mid-write (SIGKILL skips its
    clean-up): files named ``.<name>.<random>.tmp`` anywhere under `folder`. Returns them."""
    stale = [p for p in Path(folder).rglob(".*.tmp") if p.is_file() and not p.is_symlink()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=1, ensure_ascii=False))
