"""Temporary folders that a killed run does not leave behind for long.

Every folder the grader makes in TMPDIR is named ``autograder-<kind>-<pid>.<start>-...``
after the process that made it (its pid and start time, from /proc). A grading run that is
SIGKILLed cannot clean up, so the next run removes every such folder whose maker is gone.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "autograder-"
NAME = re.compile(r"^autograder-[a-z]+-(\d+)\.(\d+)-")


def _start_time(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def make(kind):
    """A new private folder (mode 0700) in TMPDIR, named after this process."""
    pid = os.getpid()
    return tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{pid}.{_start_time(pid)}-")


def remove_stale(folder=None):
    """Remove the folders made by processes that no longer exist; returns how many."""
    removed = 0
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        m = NAME.match(path.name)
        if not m or path.is_symlink() or not path.is_dir():
            continue
        if _start_time(int(m.group(1))) != m.group(2):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
