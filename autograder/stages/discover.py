"""Stage *discover*: every student's submitted notebooks, whatever shape SUBMISSIONS comes in.

The input adapters live here (today: nbgrader's layout, zips of it, flat LMS exports).

Accepted shapes (see docs/grader.md):
* nbgrader's layout ``SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb``, as a folder or a
  .zip (optionally wrapped in one top folder);
* a flat .zip or folder of one file per student and notebook (Gradescope/LMS exports):
  ``<student>_<assignment>_<notebook>.ipynb`` or ``<student>_<notebook>.ipynb``; an LMS's
  numeric ids and ``late`` tag after the student (``smith_john_late_12345_67890_<notebook>``)
  and a resubmission suffix ``-2`` before ``.ipynb`` are dropped.
"""

import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..files import read_regular, scan, what

MAX_UNZIPPED = 4 * 2**30
LMS_TAIL = re.compile(r"^(.*?)(?:_late)?(?:_\d+)+$", re.IGNORECASE)


class SubmissionsError(Exception):
    """SUBMISSIONS cannot be read at all (the grader cannot do its job)."""


@dataclass
class Discovered:
    """What SUBMISSIONS holds.

    table: (student, assignment, notebook) -> (notebook path or None, folder or None,
        [(name, kind), ...] of what in the student's folder was skipped: links, FIFOs...)
    unmatched: files that fit no naming rule; rejected: (entry, reason) that belong to no
        student (unsafe zip entries, links in place of a student's folder...).
    """
    students: list
    table: dict
    unmatched: list = field(default_factory=list)
    rejected: list = field(default_factory=list)


def _zip_problem(info):
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")):
        return "unsafe path"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return "symbolic link"
    mode = (info.external_attr >> 16) & 0o170000
    if mode and mode not in (0o100000, 0o040000):
        return "special file"
    return ""


def safe_extract(zip_path, dest):
    """Extract a zip entry by entry; returns the (entry, reason) of the entries refused
    (absolute paths, '..', links, special files). An archive that unpacks to more than
    4 GiB, or is no zip, is refused whole (SubmissionsError)."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as e:
        raise SubmissionsError(f"{zip_path} is not a readable zip file") from e
    refused = []
    with zf:
        if sum(i.file_size for i in zf.infolist()) > MAX_UNZIPPED:
            raise SubmissionsError("zip unpacks to more than 4 GiB")
        for info in zf.infolist():
            problem = _zip_problem(info)
            parts = PurePosixPath(info.filename).parts
            if problem:
                refused.append((info.filename, problem))
                continue
            if parts and parts[0] == "__MACOSX":
                continue
            target = Path(dest, *parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return refused


def _visible(path):
    return not path.name.startswith((".", "__MACOSX"))


def _folders(root):
    return [d for d in sorted(root.iterdir()) if _visible(d) and what(d) == "folder"]


def _is_nbgrader_root(root, assignments):
    return any(what(d / a) != "absent" for d in _folders(root) for a in assignments)


def _unwrap(root, assignments):
    """Descend through single wrapper folders down to the nbgrader root or the flat files."""
    while True:
        if _is_nbgrader_root(root, assignments):
            return root, "nbgrader"
        entries = [p for p in root.iterdir() if _visible(p)]
        if any(p.suffix == ".ipynb" and what(p) == "file" for p in entries):
            return root, "flat"
        dirs = _folders(root)
        if len(dirs) == 1 and len(entries) == 1:
            root = dirs[0]
            continue
        return root, "nbgrader"


def parse_flat_name(filename, plans):
    """(student, assignment, notebook) for a flat file name, or None if it fits no rule."""
    stem = re.sub(r"-\d+$", "", Path(filename).stem)
    for a, notebooks in plans.items():
        for nb in notebooks:
            suffix = f"_{a}_{nb}"
            if stem.endswith(suffix) and len(stem) > len(suffix):
                return _student(stem[: -len(suffix)]), a, nb
    owners = {}
    for a, notebooks in plans.items():
        for nb in notebooks:
            owners.setdefault(nb, []).append(a)
    for nb in sorted(owners, key=len, reverse=True):
        if len(owners[nb]) != 1:
            continue
        # LMS exports keep the student's own file name after the ids: match it anywhere.
        for suffix in (f"_{nb}",):
            if stem.endswith(suffix) and len(stem) > len(suffix):
                return _student(stem[: -len(suffix)]), owners[nb][0], nb
    return None


def _student(prefix):
    m = LMS_TAIL.match(prefix)
    name = m.group(1) if m and m.group(1) else prefix
    return name.strip(" _") or prefix


def _flat(root, plans, staging, found, notes):
    flat = Path(staging) / "flat"
    files, specials = scan(root)
    for rel in files:
        path = root / rel
        if path.suffix != ".ipynb" or not all(_visible(Path(p)) for p in Path(rel).parts):
            continue
        parsed = parse_flat_name(path.name, plans)
        if parsed is None or parsed[0] in (".", ".."):
            found.unmatched.append(rel)
            continue
        student, a, nb = parsed
        folder = flat / student / a
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{nb}.ipynb").write_bytes(read_regular(path))
        found.table[(student, a, nb)] = (str(folder / f"{nb}.ipynb"), str(folder), [])
    for rel, kind in specials:
        _attribute(rel, kind, plans, "flat", found, notes)


def _nbgrader(root, plans, found, notes):
    for entry in sorted(root.iterdir()):
        if _visible(entry) and what(entry) not in ("folder", "file"):
            notes.setdefault((entry.name, None), []).append(
                (entry.name, f"{what(entry)} in place of the student's folder"))
    for student_dir in _folders(root):
        s = student_dir.name
        notes.setdefault((s, None), [])
        for a, notebooks in plans.items():
            folder = student_dir / a
            kind = what(folder)
            if kind not in ("folder", "absent"):
                notes.setdefault((s, a), []).append((a, kind))
            for nb in notebooks:
                path = folder / f"{nb}.ipynb"
                ok = kind == "folder" and what(path) == "file"
                found.table[(s, a, nb)] = (str(path) if ok else None,
                                           str(folder) if kind == "folder" else None, [])


def _attribute(name, reason, plans, layout, found, notes):
    """Give a refused entry to the student (and assignment) it belongs to, if any."""
    parts = PurePosixPath(name).parts
    owner = None
    if layout == "flat":
        parsed = parse_flat_name(PurePosixPath(name).name, plans)
        owner = parsed[:2] if parsed else None
    elif len(parts) >= 2:
        owner = (parts[0], parts[1] if parts[1] in plans else None)
    if owner is None or owner[0] in (".", "..", "/", ""):
        found.rejected.append((name, reason))
    else:
        notes.setdefault(owner, []).append((name, reason))


def discover(submissions, plans, staging):
    """Find every (student, assignment, notebook) in SUBMISSIONS; returns a `Discovered`.

    Only regular files and folders are read: links, FIFOs, sockets and devices are never
    followed, and are named for the student they belong to."""
    submissions = Path(submissions)
    refused = []
    if what(submissions) == "file" and submissions.suffix.lower() == ".zip":
        root = Path(staging) / "unzipped"
        root.mkdir(parents=True)
        refused = safe_extract(submissions, root)
    elif what(submissions) == "folder":
        root = submissions
    else:
        raise SubmissionsError(f"{submissions} is neither a folder nor a .zip")
    top, layout = _unwrap(root, list(plans))
    found, notes = Discovered([], {}), {}
    if layout == "flat":
        _flat(top, plans, staging, found, notes)
    else:
        _nbgrader(top, plans, found, notes)
    prefix = top.relative_to(root).parts
    for name, reason in refused:
        if reason == "unsafe path":  # whose it is cannot be trusted either
            found.rejected.append((name, reason))
            continue
        parts = PurePosixPath(name).parts
        rel = parts[len(prefix):] if parts[:len(prefix)] == prefix else parts
        _attribute("/".join(rel) or name, reason, plans, layout, found, notes)
    found.students = sorted({k[0] for k in found.table} | {s for s, _ in notes})
    for s in found.students:
        for a, notebooks in plans.items():
            for nb in notebooks:
                path, folder, skipped = found.table.setdefault((s, a, nb), (None, None, []))
                skipped += notes.get((s, None), []) + notes.get((s, a), [])
    return found
