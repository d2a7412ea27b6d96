"""What a job carries to a worker that shares no filesystem with the grader (``--scheduler``):
the submitted notebook's bytes and the regular files beside it, instead of their paths; and
the hash of that content, by which ``--resume`` knows a submission changed."""

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from ..files import read_regular, scan, what


def contents(job):
    """(notebook bytes or None, {relative path: bytes} of the folder, skipped entries)."""
    notebook = None
    if job.get("path"):
        try:
            notebook = read_regular(job["path"])
        except OSError:
            notebook = None  # assemble's own read reports it
    files, specials = {}, []
    if job.get("dir") and what(job["dir"]) == "folder":
        names, specials = scan(job["dir"])
        for rel in names:
            try:
                files[rel] = read_regular(Path(job["dir"]) / rel)
            except OSError:
                specials.append((rel, "unreadable file"))
    skipped = sorted({tuple(s) for s in (job.get("skipped") or [])} | set(specials))
    return notebook, files, skipped


def content_hash(job):
    """The hash of everything of the submission that a grade depends on."""
    notebook, files, skipped = contents(job)
    h = hashlib.sha256()
    h.update(b"missing" if notebook is None and not job.get("path") else
             b"nb:" + hashlib.sha256(notebook or b"").digest())
    for rel in sorted(files):
        h.update(json.dumps(rel).encode() + hashlib.sha256(files[rel]).digest())
    h.update(json.dumps(skipped).encode())
    return h.hexdigest()


def pack(job):
    """The job with its files as bytes and no local path."""
    notebook, files, skipped = contents(job)
    packed = dict(job, path=None, dir=None, skipped=skipped)
    packed["payload"] = {"notebook": notebook, "had_path": bool(job.get("path")),
                         "had_dir": bool(job.get("dir")), "files": files}
    return packed


@contextlib.contextmanager
def unpacked(job):
    """A packed job with its files written to a private temporary folder of this worker
    (removed afterwards); a job without payload as it is."""
    payload = job.get("payload")
    if payload is None:
        yield job
        return
    tmp = Path(tempfile.mkdtemp(prefix="autograder-task-"))
    try:
        tmp.chmod(0o700)
        local = {k: v for k, v in job.items() if k != "payload"}
        if payload["had_dir"]:
            local["dir"] = str(tmp / "files")
            (tmp / "files").mkdir()
            for rel, data in payload["files"].items():
                target = tmp / "files" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        if payload["had_path"]:
            local["path"] = str(tmp / "submitted.ipynb")
            if payload["notebook"] is not None:
                Path(local["path"]).write_bytes(payload["notebook"])
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def grade_packed(job, grade_notebook):
    """`grade_notebook` on a packed job, on whichever machine runs it."""
    with unpacked(job) as local:
        return grade_notebook(local)
