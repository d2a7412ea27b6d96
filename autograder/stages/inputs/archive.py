"""Zips opened entry by entry: no entry escapes the folder it is unpacked into, no link or
special file is created, and modification times are kept (the newest copy of a notebook
wins)."""

import os
import shutil
import time
import zipfile
from pathlib import Path, PurePosixPath

from .common import SubmissionsError

MAX_UNZIPPED = 4 * 2**30


def _zip_problem(info):
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")):
        return "unsafe path"
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        return "symbolic link"
    if mode and mode not in (0o100000, 0o040000):
        return "special file"
    return ""


def _mtime(info):
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return None


def safe_extract(zip_path, dest):
    """Extract a zip entry by entry; returns the (entry, reason) of the entries refused
    (absolute paths, '..', links, special files). An archive that unpacks to more than
    4 GiB, or is no zip, is refused whole (SubmissionsError)."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
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
            stamp = _mtime(info)
            if stamp is not None:
                os.utime(target, (stamp, stamp))
    return refused
