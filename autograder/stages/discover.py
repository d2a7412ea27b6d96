"""Stage *discover*: every student's submitted notebooks, whatever shape SUBMISSIONS comes in.

SUBMISSIONS is a folder or a .zip of one of the shapes the input adapters read
(`autograder.stages.inputs`): nbgrader's layout, flat one-file-per-notebook names, Canvas,
Moodle and Gradescope downloads, nbgrader ``zip_collect`` names; or a folder whose entries
are named after assignments, each holding (or being a .zip of) one download of that
assignment. Single wrapper folders are looked through. See docs/grader.md, *Inputs*.
"""

from pathlib import Path, PurePosixPath

from ..files import copy_regular, scan, what
from .inputs import canvas, flat, gradescope, moodle, nbgrader, roster, zipcollect
from .inputs.archive import MAX_UNZIPPED, safe_extract
from .inputs.common import Collector, Discovered, SubmissionsError
from .inputs.flat import parse_flat_name
from .inputs.nbgrader import folders, visible

__all__ = ["MAX_UNZIPPED", "Discovered", "SubmissionsError", "discover", "parse_flat_name",
           "safe_extract"]


def _has_notebooks(root):
    return any(p.suffix.lower() == ".ipynb" and what(p) == "file" for p in root.iterdir()
               if visible(p))


def _unwrap(root, plans):
    """Descend through single wrapper folders down to a download's own top."""
    while True:
        if (nbgrader.is_root(root, plans) or gradescope.is_export(root) or _has_notebooks(root)
                or moodle.is_download(root)):
            return root
        entries = [p for p in root.iterdir() if visible(p)]
        dirs = folders(root)
        if len(dirs) == 1 and len(entries) == 1:
            root = dirs[0]
            continue
        return root


def _per_assignment(root, plans):
    """{assignment: entry} when every entry of `root` is named after an assignment (a folder
    or a .zip holding one download of it), else None."""
    entries = [p for p in root.iterdir() if visible(p)]
    named = {}
    for p in entries:
        name = p.name[:-4] if p.name.lower().endswith(".zip") and what(p) == "file" else p.name
        if name not in plans or what(p) not in ("folder", "file"):
            return None
        named[name] = p
    if not named or nbgrader.is_root(root, plans):
        return None
    return named


def _layout(top, plans, rule):
    if nbgrader.is_root(top, plans):
        return "nbgrader"
    if gradescope.is_export(top):
        return "gradescope"
    if moodle.is_download(top):
        return "moodle"
    files, _ = flat.notebooks(top)
    everything = scan(top)[0]
    if zipcollect.is_download(top, everything, rule):
        return "zipcollect"
    if canvas.is_download(everything):
        return "canvas"
    return "flat" if files else "nbgrader"


def _collect(top, layout, plans, hint, staging, rule, col):
    """Run the adapter of `layout`; returns how to find the owner of a refused entry."""
    if layout == "nbgrader":
        nbgrader.collect(top, plans, col)
        return lambda parts: nbgrader.owner(parts, plans)
    if layout == "gradescope":
        metadata = gradescope.collect(top, plans, hint, col)
        return lambda parts: gradescope.owner(parts, metadata)
    if layout == "moodle":
        moodle.collect(top, plans, hint, col)
        return lambda parts: moodle.owner(parts, plans)
    files, specials = scan(top)
    if layout == "zipcollect":
        zipcollect.collect(top, files, rule, plans, hint, staging, col)
        return lambda parts: None
    if layout == "canvas":
        canvas.collect(top, files, plans, hint, staging, col)
        owner = lambda parts: canvas.owner(parts, plans)
    else:
        flat.collect(top, plans, col)
        owner = lambda parts: flat.owner(parts, plans)
    for rel, kind in specials:
        _attribute(PurePosixPath(rel).parts, rel, kind, owner, col)
    return owner


def _attribute(parts, name, reason, owner, col):
    """Give a refused entry to the students (and assignment) it belongs to, if any."""
    found = owner(parts) if parts else None
    found = [found] if isinstance(found, tuple) else (found or [])
    found = [o for o in found if o[0] not in (".", "..", "/", "")]
    if not found:
        col.rejected.append((name, reason))
    for o in found:
        col.skip(o, name, reason)


def _download(root, refused, plans, hint, staging, rule, col):
    """One download (folder) of one shape, and the entries its zip refused."""
    top = _unwrap(root, plans)
    if hint and what(top / "archive") == "folder" and not _has_notebooks(top):
        top = top / "archive"  # nbgrader zip_collect's {downloaded}/{assignment}/archive
    if rule is not None:  # zip_collect reads inside the archives among the downloads
        top = _inner_zips(top, staging)
    layout = _layout(top, plans, rule)
    owner = _collect(top, layout, plans, hint, Path(staging) / "files", rule, col)
    prefix = top.relative_to(root).parts if top.is_relative_to(root) else ()
    for name, reason in refused:
        if reason == "unsafe path":  # whose it is cannot be trusted either
            col.rejected.append((name, reason))
            continue
        parts = PurePosixPath(name).parts
        rel = parts[len(prefix):] if parts[:len(prefix)] == prefix else parts
        _attribute(rel, "/".join(rel) or name, reason, owner, col)


def _inner_zips(top, staging):
    """nbgrader's extractor unpacks the archives among the downloaded files: so do we, into
    a copy of the folder in `staging`."""
    zips = [r for r in scan(top)[0] if r.lower().endswith(".zip")]
    if not zips:
        return top
    copy = Path(staging) / "extracted"
    copy_regular(top, copy)
    for rel in zips:
        (copy / rel).unlink()
        safe_extract(top / rel, copy / rel[:-4])
    return copy


def _open(path, staging):
    """(folder, refused zip entries) of SUBMISSIONS or of one download in it."""
    path = Path(path)
    if what(path) == "file" and path.suffix.lower() == ".zip":
        root = Path(staging) / "unzipped"
        root.mkdir(parents=True)
        return root, safe_extract(path, root)
    if what(path) == "folder":
        return path, []
    raise SubmissionsError(f"{path} is neither a folder nor a .zip")


def discover(submissions, plans, staging, roster_file=None, config=None):
    """Find every (student, assignment, notebook) in SUBMISSIONS; returns a `Discovered`.

    roster_file: a class list (CSV; see `inputs.roster`) whose absent students are listed
    as missing; config: the course's nbgrader configuration (for zip_collect's regexp).
    Only regular files and folders are read: links, FIFOs, sockets and devices are never
    followed, and are named for the student they belong to."""
    rule = zipcollect.matcher(config or {})
    root, refused = _open(submissions, Path(staging) / "0")
    col = Collector()
    hints = _per_assignment(root, plans)
    if hints:
        for i, (a, entry) in enumerate(sorted(hints.items()), start=1):
            where = Path(staging) / str(i)
            folder, inner = _open(entry, where)
            rel = entry.relative_to(root).parts
            inner += [("/".join(PurePosixPath(n).parts[len(rel):]), r) for n, r in refused
                      if PurePosixPath(n).parts[:len(rel)] == rel]
            _download(folder, inner, {a: plans[a]}, a, where, rule, col)
    else:
        _download(root, refused, plans, None, Path(staging) / "0", rule, col)
    unknown = roster.apply(col, roster.read_roster(roster_file)) if roster_file else []
    found = col.result(plans)
    found.unknown = unknown
    return found
