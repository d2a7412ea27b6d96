"""nbgrader's layout: ``<student>/<assignment>/<notebook>.ipynb``, with the submission time
in ``timestamp.txt`` as ``nbgrader collect`` and ``zip_collect`` leave it."""

from ...files import read_regular, what
from .common import Details, iso
from .names import notebook_of


def visible(path):
    return not path.name.startswith((".", "__MACOSX"))


def folders(root):
    return [d for d in sorted(root.iterdir()) if visible(d) and what(d) == "folder"]


def is_root(root, plans):
    return any(what(d / a) != "absent" for d in folders(root) for a in plans)


def timestamp(folder):
    """The time in ``folder/timestamp.txt`` (ISO 8601, UTC), or None."""
    path = folder / "timestamp.txt"
    if what(path) != "file":
        return None
    try:
        return iso(read_regular(path, limit=200).decode("utf-8", "replace"))
    except OSError:
        return None


def offer_notebooks(col, key, assignment, notebooks, folder, details):
    """Offer the notebooks at the top of `folder` (case and copy suffixes tolerated)."""
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".ipynb" or not visible(path) or what(path) != "file":
            continue
        nb = notebook_of(path.stem, list(notebooks))
        if nb is not None:
            col.offer(key, assignment, nb, path, folder, path.name, details)


def collect(root, plans, col):
    for entry in sorted(root.iterdir()):
        if visible(entry) and what(entry) not in ("folder", "file"):
            col.skip((entry.name, None), entry.name,
                     f"{what(entry)} in place of the student's folder")
    for student_dir in folders(root):
        s = student_dir.name
        col.student(s, Details(source="nbgrader"))
        for a, notebooks in plans.items():
            folder = student_dir / a
            kind = what(folder)
            if kind not in ("folder", "absent"):
                col.skip((s, a), a, kind)
            if kind != "folder":
                continue
            col.folder(s, a, folder)
            details = Details(source="nbgrader", timestamp=timestamp(folder))
            offer_notebooks(col, s, a, notebooks, folder, details)


def owner(parts, plans):
    """(student, assignment or None) of a refused entry at relative path `parts`."""
    if len(parts) < 2:
        return None
    return parts[0], parts[1] if parts[1] in plans else None

