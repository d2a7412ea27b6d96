"""The notebooks anywhere in one student's folder (LMS downloads keep what the student
uploaded, sub-folders included): each is matched to a released notebook by its name, and
graded with the files beside it."""

from pathlib import Path

from ...files import scan
from .names import owners


def offer_tree(col, key, root, plans, hint, details, label=""):
    """Offer every notebook under `root` for student `key`; what is not a regular file is
    named in that student's note. `label` prefixes the names shown (e.g. the LMS folder)."""
    files, specials = scan(root)
    for rel, kind in specials:
        col.skip((key, hint), f"{label}{rel}", kind)
    for rel in files:
        parts = Path(rel).parts
        if not rel.lower().endswith(".ipynb") or any(
                p.startswith((".", "__MACOSX")) for p in parts):
            continue
        found = owners(Path(rel).stem, plans, hint)
        if len(found) != 1:
            col.unmatched.append(f"{label}{rel}")
            continue
        a, nb = found[0]
        path = Path(root) / rel
        col.offer(key, a, nb, path, path.parent, rel, details)
