"""What every input adapter fills: candidate notebooks per (student id, assignment, notebook),
resolved into the table the later stages read."""

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

#: LMS file names write times with dashes (``2016-01-30-20-30-10``), which dateutil misreads.
DASHED = re.compile(r"^(\d{4}-\d{2}-\d{2})[-_ T](\d{2})[-:](\d{2})[-:](\d{2})$")


class SubmissionsError(Exception):
    """SUBMISSIONS cannot be read at all (the grader cannot do its job)."""


@dataclass
class Details:
    """What an input format tells of one submission, carried on its job.

    name: the student's name as the format gives it (a label: the key is the student id);
    timestamp: when the format says it was handed in (ISO 8601, UTC), for lateness;
    late: the format's own late flag (Canvas), else None; source: the input format;
    notes: for the row's note (which copy of a notebook was graded, roster remarks)."""
    name: str = ""
    timestamp: str = None
    late: bool = None
    source: str = ""
    notes: list = field(default_factory=list)

    def job(self):
        return {"name": self.name, "timestamp": self.timestamp, "late": self.late,
                "source": self.source, "notes": list(self.notes)}


@dataclass
class Discovered:
    """What SUBMISSIONS holds.

    table: (student, assignment, notebook) -> (notebook path or None, folder or None,
        [(name, kind), ...] of what in the student's folder was skipped: links, FIFOs...)
    details: (student, assignment, notebook) -> Details; names: student -> name (label).
    unmatched: files that fit no naming rule; rejected: (entry, reason) that belong to no
        student (unsafe zip entries, links in place of a student's folder...); unknown:
        students who handed in work but are not on the roster.
    """
    students: list
    table: dict
    unmatched: list = field(default_factory=list)
    rejected: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    unknown: list = field(default_factory=list)

    @property
    def present(self):
        """The assignments of which at least one notebook was handed in."""
        return sorted({a for (_, a, _), (path, _, _) in self.table.items() if path})


def iso(value):
    """A timestamp (datetime or text) as ISO 8601 in UTC, read as nbgrader reads
    ``timestamp.txt`` (naive times are UTC); None when it cannot be read."""
    if value in (None, ""):
        return None
    try:
        if not isinstance(value, datetime):
            from dateutil import parser, tz

            text = DASHED.sub(r"\1T\2:\3:\4", str(value).strip())
            value = parser.parse(text, tzinfos=lambda name, _: tz.gettz(name))
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)  # noqa: UP017 (3.10)
        return value.isoformat()
    except (ValueError, OverflowError, TypeError):
        return None


@dataclass
class Candidate:
    path: Path  # the submitted notebook (a regular file)
    folder: Path  # the files copied beside it, or None
    shown: str  # the file name as the student handed it in
    details: Details
    mtime: float
    order: int = 0  # the format's own order of uploads (Canvas's file ids), if any

    def rank(self, nb):
        return (self.details.timestamp or "", self.mtime, self.order,
                self.shown == f"{nb}.ipynb", self.shown)


class Collector:
    """Candidates from the adapters; `result()` keeps the newest of each notebook."""

    def __init__(self):
        self.candidates = defaultdict(list)
        self.people = {}  # student -> Details (name, source) of a student with or without work
        self.notes = {}  # (student, assignment or None) -> [(name, kind)] skipped
        self.folders = {}  # (student, assignment) -> the folder handed in, notebook or not
        self.unmatched, self.rejected = [], []

    def student(self, key, details=None):
        details = details or Details()
        self.people.setdefault(key, Details(details.name, source=details.source))
        self.notes.setdefault((key, None), [])

    def offer(self, key, assignment, notebook, path, folder, shown, details, order=0):
        self.student(key, details)
        try:
            mtime = os.lstat(path).st_mtime
        except OSError:
            mtime = 0.0
        self.candidates[(key, assignment, notebook)].append(
            Candidate(Path(path), folder and Path(folder), shown, details, mtime, order))

    def folder(self, key, assignment, folder):
        """The student's folder of an assignment (scanned for skipped files even when it
        holds no notebook)."""
        self.folders[(key, assignment)] = Path(folder)

    def rename(self, old, new):
        """File everything of student `old` under `new` (the roster's id for an email)."""
        if old == new:
            return
        self.student(new, self.people.pop(old, None))
        for table in (self.candidates, self.notes, self.folders):
            for k in [k for k in table if k[0] == old]:
                value = table.pop(k)
                if isinstance(value, list):
                    table.setdefault((new, *k[1:]), []).extend(value)
                else:
                    table[(new, *k[1:])] = value

    def skip(self, owner, name, reason):
        self.notes.setdefault(owner, []).append((name, reason))

    def result(self, plans):
        found = Discovered([], {}, self.unmatched, self.rejected)
        for (s, a, nb), cands in self.candidates.items():
            best = max(cands, key=lambda c: c.rank(nb))
            notes = list(self.people.get(s, Details()).notes) + list(best.details.notes)
            if len(cands) > 1:
                notes.append(f"{best.shown} graded as {nb}.ipynb, the newest of "
                             + ", ".join(sorted(c.shown for c in cands)))
            elif best.shown != f"{nb}.ipynb":
                notes.append(f"{best.shown} graded as {nb}.ipynb")
            found.table[(s, a, nb)] = (str(best.path), best.folder and str(best.folder), [])
            name = best.details.name or self.people.get(s, Details()).name
            found.details[(s, a, nb)] = Details(name, best.details.timestamp,
                                                best.details.late, best.details.source, notes)
        found.students = sorted({k[0] for k in found.table} | {s for s, _ in self.notes}
                                | set(self.people))
        for s in found.students:
            person = self.people.get(s, Details())
            found.names[s] = person.name
            for a, notebooks in plans.items():
                for nb in notebooks:
                    folder = self.folders.get((s, a))
                    _, _, skipped = found.table.setdefault(
                        (s, a, nb), (None, folder and str(folder), []))
                    skipped += self.notes.get((s, None), []) + self.notes.get((s, a), [])
                    found.details.setdefault((s, a, nb), Details(
                        person.name, source=person.source, notes=list(person.notes)))
        return found
