"""Regular files only: what of a student's folder the grader reads or copies.

A grader running as root must never follow a link a student left (a symlink to
``solutions/`` would be read and shown in that student's feedback), nor open a FIFO (it
blocks) or a device. Everything that is not a plain file or folder is skipped, and named, so
the student's feedback and the CSV say what was left out.
"""

import os
import stat
from pathlib import Path

IGNORED = {".ipynb_checkpoints", "__MACOSX"}


def kind(mode):
    """A plain word for what a non-regular file is."""
    for test, word in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return word
    return "special file"


def what(path):
    """'file', 'folder', 'absent' or the kind of special file at `path` (links not followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "absent"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return kind(mode)


def scan(folder):
    """(regular files, skipped) under `folder`: relative paths of the regular files, and
    (relative path, kind) of everything skipped. Links are never followed."""
    files, skipped = [], []
    folder = Path(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel = Path(dirpath).relative_to(folder)
        for name in list(dirnames):
            full = Path(dirpath, name)
            if name in IGNORED:
                dirnames.remove(name)
            elif what(full) != "folder":  # os.walk lists a link to a folder as a folder
                dirnames.remove(name)
                skipped.append((str(rel / name), what(full)))
        for name in filenames:
            kind_ = what(Path(dirpath, name))
            if kind_ == "file":
                files.append(str(rel / name))
            elif kind_ != "absent":
                skipped.append((str(rel / name), kind_))
    return sorted(files), sorted(skipped)


def read_regular(path, limit=None):
    """The bytes of a regular file, refusing links and special files (O_NOFOLLOW, fstat)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read() if limit is None else f.read(limit)
    finally:
        os.close(fd)


def copy_regular(src, dest):
    """Copy the regular files of `src` into `dest` (created); returns what was skipped."""
    files, skipped = scan(src)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.write_bytes(read_regular(Path(src) / rel))
        except OSError:
            skipped.append((rel, "unreadable file"))
    return sorted(skipped)


def describe(skipped):
    """One sentence for the feedback and the CSV."""
    if not skipped:
        return ""
    items = ", ".join(f"{name} ({word})" for name, word in skipped)
    return f"skipped, since only regular files are read: {items}"
