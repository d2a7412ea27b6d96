"""One file per student and notebook, in a flat folder or zip:
``<student>_<assignment>_<notebook>.ipynb``, or ``<student>_<notebook>.ipynb`` when that
notebook name belongs to one assignment only. An LMS's numeric ids and ``late`` tag after the
student (``smithjane_late_12345_67890_rnn.ipynb`` is ``smithjane``) are dropped, and so are
copy suffixes (``rnn-2.ipynb``, ``RNN (1).ipynb``)."""

import re
from pathlib import Path

from ...files import scan
from .common import Details
from .names import COPY

LMS_TAIL = re.compile(r"^(.*?)(?:_late)?(?:_\d+)+$", re.IGNORECASE)


def _student(prefix):
    m = LMS_TAIL.match(prefix)
    name = m.group(1) if m and m.group(1) else prefix
    return name.strip(" _") or prefix


def _ending(stem, tail):
    """The part of `stem` before ``_<tail>`` (case and copy suffixes aside), or None."""
    m = re.fullmatch(rf"(?P<who>.+)_{re.escape(tail)}(?:{COPY})*", stem, re.IGNORECASE | re.S)
    return m.group("who") if m else None


def parse_flat_name(filename, plans):
    """(student, assignment, notebook) for a flat file name, or None if it fits no rule."""
    stem = Path(filename).stem
    for a, notebooks in plans.items():
        for nb in notebooks:
            who = _ending(stem, f"{a}_{nb}")
            if who:
                return _student(who), a, nb
    owners = {}
    for a, notebooks in plans.items():
        for nb in notebooks:
            owners.setdefault(nb, []).append(a)
    for nb in sorted(owners, key=len, reverse=True):
        if len(owners[nb]) != 1:
            continue
        # LMS exports keep the student's own file name after the ids: match it anywhere.
        who = _ending(stem, nb)
        if who:
            return _student(who), owners[nb][0], nb
    return None


def notebooks(root):
    """The visible notebook files under `root` (relative paths) and what was skipped."""
    files, specials = scan(root)
    hidden = lambda rel: any(p.startswith((".", "__MACOSX")) for p in Path(rel).parts)
    return [r for r in files if r.lower().endswith(".ipynb") and not hidden(r)], specials


def collect(root, plans, col):
    files, specials = notebooks(root)
    for rel in files:
        parsed = parse_flat_name(Path(rel).name, plans)
        if parsed is None or parsed[0] in (".", ".."):
            col.unmatched.append(rel)
            continue
        student, a, nb = parsed
        col.offer(student, a, nb, root / rel, None, Path(rel).name, Details(source="flat"))
    return specials


def owner(parts, plans):
    parsed = parse_flat_name(parts[-1], plans) if parts else None
    return parsed[:2] if parsed else None
