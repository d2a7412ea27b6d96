"""Canvas's "Download Submissions": a flat zip of files named
``<name>_[LATE_]<user id>_<file id>_<file name>``, where <name> is the sortable name
lowercased with everything but letters, digits and ``_`` removed, <user id> is Canvas's
numeric id (``anon_<id>`` under anonymous grading) and <file name> the file as the student
uploaded it (Canvas adds ``-1``, ``-2`` to a name the student already used).

The user id is the key: two students with the same name stay two students. Every file of a
student is put back under its own name beside the notebook, so data files travel with it.
"""

import re
import shutil
from pathlib import Path

from ...files import what
from .common import Details
from .names import owners, safe_key

NAME = re.compile(r"(?:(?P<name>.*?)_)??(?:(?P<late>late)_)?(?P<id>anon_[0-9a-z]+|\d+)_"
                  r"(?P<file_id>\d+)_(?P<file>.+)", re.IGNORECASE | re.S)


def parse(filename):
    """{name, late, id, file_id, file} of a Canvas file name, or None."""
    m = NAME.fullmatch(filename)
    return m.groupdict() if m else None


def is_download(files):
    """Whether every notebook among these relative paths is named as Canvas names them."""
    nbs = [f for f in files if f.lower().endswith(".ipynb")]
    return bool(nbs) and all("/" not in f and parse(f) for f in nbs)


def collect(root, files, plans, hint, staging, col):
    """Put every student's files back under their own names in `staging/<id>/`, then offer
    the notebooks among them."""
    by_student = {}
    for rel in files:
        info = parse(Path(rel).name) if "/" not in rel else None
        key = safe_key(info["id"]) if info else ""
        if not key:
            if rel.lower().endswith(".ipynb"):
                col.unmatched.append(rel)
            continue
        by_student.setdefault(key, []).append((int(info["file_id"]), rel, info))
    for key, entries in sorted(by_student.items()):
        folder = Path(staging) / key
        folder.mkdir(parents=True)
        entries.sort()  # by Canvas's file id: a later upload overwrites an earlier namesake
        for _, rel, info in entries:
            shutil.copy2(root / rel, folder / safe_key(info["file"]))
        info = entries[-1][2]
        details = Details(name=info["name"] or "", late=any(e[2]["late"] for e in entries)
                          or None, source="canvas")
        col.student(key, details)
        _offer(col, key, folder, entries, plans, hint, details)


def _offer(col, key, folder, entries, plans, hint, details):
    seen = set()
    for file_id, rel, info in reversed(entries):
        path = folder / safe_key(info["file"])
        if path in seen or not path.name.lower().endswith(".ipynb") or what(path) != "file":
            continue
        seen.add(path)
        found = owners(Path(info["file"]).stem, plans, hint)
        if len(found) != 1:
            col.unmatched.append(rel)
            continue
        a, nb = found[0]
        col.offer(key, a, nb, path, folder, info["file"], details, order=file_id)


def owner(parts, plans):
    info = parse(parts[-1]) if parts else None
    return (safe_key(info["id"]), None) if info else None
