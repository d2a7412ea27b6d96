"""Find every student's submitted notebooks, whatever shape SUBMISSIONS comes in.

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
from pathlib import Path, PurePosixPath

MAX_UNZIPPED = 4 * 2**30
LMS_TAIL = re.compile(r"^(.*?)(?:_late)?(?:_\d+)+$", re.IGNORECASE)


class SubmissionsError(Exception):
    """SUBMISSIONS cannot be read at all (the grader cannot do its job)."""


def safe_extract(zip_path, dest):
    """Extract a zip refusing absolute paths, '..', links and archives that unpack too big."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as e:
        raise SubmissionsError(f"{zip_path} is not a readable zip file") from e
    with zf:
        total = 0
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or info.filename.startswith("/"):
                raise SubmissionsError(f"unsafe path in zip: {info.filename!r}")
            total += info.file_size
            if total > MAX_UNZIPPED:
                raise SubmissionsError("zip unpacks to more than 4 GiB")
            if name.parts and name.parts[0] == "__MACOSX":
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # symlink: never followed
            target = Path(dest, *name.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _visible(path):
    return not path.name.startswith((".", "__MACOSX"))


def _is_nbgrader_root(root, assignments):
    return any((d / a).is_dir() for d in root.iterdir() if d.is_dir() and _visible(d)
               for a in assignments)


def _unwrap(root, assignments):
    """Descend through single wrapper folders down to the nbgrader root or the flat files."""
    while True:
        if _is_nbgrader_root(root, assignments):
            return root, "nbgrader"
        entries = [p for p in root.iterdir() if _visible(p)]
        if any(p.suffix == ".ipynb" for p in entries if p.is_file()):
            return root, "flat"
        dirs = [p for p in entries if p.is_dir()]
        if len(dirs) == 1 and not any(p.is_file() for p in entries):
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


def discover(submissions, plans, staging):
    """Map every (student, assignment, notebook) to (notebook path or None, folder or None).

    Returns (students, table, skipped): the sorted student names, the table, and the files
    that fit no naming rule.
    """
    submissions = Path(submissions)
    staging = Path(staging)
    if submissions.is_file() and submissions.suffix.lower() == ".zip":
        root = staging / "unzipped"
        root.mkdir(parents=True)
        safe_extract(submissions, root)
    elif submissions.is_dir():
        root = submissions
    else:
        raise SubmissionsError(f"{submissions} is neither a folder nor a .zip")
    root, layout = _unwrap(root, list(plans))
    table, skipped = {}, []
    if layout == "flat":
        flat = staging / "flat"
        for path in sorted(p for p in root.rglob("*.ipynb") if _visible(p)):
            parsed = parse_flat_name(path.name, plans)
            if parsed is None or parsed[0] in (".", ".."):
                skipped.append(str(path.relative_to(root)))
                continue
            student, a, nb = parsed
            folder = flat / student / a
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / f"{nb}.ipynb")
            table[(student, a, nb)] = (str(folder / f"{nb}.ipynb"), str(folder))
        students = sorted({k[0] for k in table})
    else:
        students = sorted(d.name for d in root.iterdir() if d.is_dir() and _visible(d))
        for s in students:
            for a, notebooks in plans.items():
                folder = root / s / a
                for nb in notebooks:
                    path = folder / f"{nb}.ipynb"
                    table[(s, a, nb)] = (str(path) if path.is_file() else None,
                                         str(folder) if folder.is_dir() else None)
    for s in students:
        for a, notebooks in plans.items():
            for nb in notebooks:
                table.setdefault((s, a, nb), (None, None))
    return students, table, skipped
