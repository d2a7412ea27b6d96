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


def write_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=1, ensure_ascii=False))
