"""The file names ``nbgrader zip_collect`` reads: the course's
``c.FileNameCollectorPlugin.named_regexp`` applied (with ``re.match``) to each file's absolute
path, with the named groups ``student_id`` and ``file_id`` and optionally ``timestamp``,
``first_name``, ``last_name`` and ``email``; only files ending in ``valid_ext`` (default
``.ipynb``) are collected. As in nbgrader, of two files with the same name the one with the
newer timestamp is kept, and the other collected files lie beside the notebook."""

import os
import re
import shutil
from pathlib import Path, PurePosixPath

from .common import Details, SubmissionsError, iso
from .names import owners, safe_key


def matcher(config):
    """(compiled named_regexp, valid extensions) from the course's configuration, or None."""
    section = dict(config.get("FileNameCollectorPlugin", {}) or {})
    pattern = section.get("named_regexp")
    if not pattern:
        return None
    try:
        rx = re.compile(str(pattern))
    except re.error as e:
        raise SubmissionsError(f"c.FileNameCollectorPlugin.named_regexp: {e}") from e
    return rx, list(section.get("valid_ext") or [".ipynb"])


def _match(rx, path):
    m = rx.match(str(path))
    info = m.groupdict() if m else {}
    if not info.get("student_id") or not info.get("file_id"):
        return None
    name = PurePosixPath(os.path.splitext(info["file_id"])[0] + Path(path).suffix)
    if name.is_absolute() or ".." in name.parts or not safe_key(info["student_id"]):
        return None
    return info, str(name)


def is_download(root, files, rule):
    return rule is not None and any(_match(rule[0], Path(root) / f) for f in files)


def collect(root, files, rule, plans, hint, staging, col):
    rx, valid_ext = rule
    by_student = {}
    for rel in files:
        path = Path(root) / rel
        parsed = _match(rx, path) if path.suffix in valid_ext else None
        if parsed is None:
            if rel.lower().endswith(".ipynb"):
                col.unmatched.append(rel)
            continue
        info, name = parsed
        by_student.setdefault(safe_key(info["student_id"]), []).append(
            (iso(info.get("timestamp")) or "", rel, name, info))
    for key, entries in sorted(by_student.items()):
        _student(col, key, entries, Path(root), Path(staging) / key, plans, hint)


def _student(col, key, entries, root, folder, plans, hint):
    entries.sort(key=lambda e: e[0])
    info = entries[-1][3]
    person = " ".join(x for x in (info.get("first_name"), info.get("last_name")) if x)
    col.student(key, Details(name=person, source="zip_collect"))
    folder.mkdir(parents=True)
    for _, rel, name, _ in entries:  # newer timestamps overwrite older ones
        if not name.lower().endswith(".ipynb"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, folder / name)
    for when, rel, name, _ in entries:
        if name.lower().endswith(".ipynb"):
            found = owners(Path(name).stem, plans, hint)
            if len(found) != 1:
                col.unmatched.append(rel)
                continue
            details = Details(name=person, timestamp=when or None, source="zip_collect")
            col.offer(key, *found[0], root / rel, folder, Path(rel).name, details)
