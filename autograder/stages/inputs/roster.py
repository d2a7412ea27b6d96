"""``--roster FILE``: the class list (CSV with a header), so that a student who handed in
nothing appears as ``missing``.

Recognised columns (case and spaces aside): the id is the first of ``id``, ``student_id``,
``sid``, ``student id``, ``sis user id``, ``username``, ``login id``, ``user id``; the name is
``name`` (or ``student``, ``full name``), else ``first name`` + ``last name``; ``email`` is
optional. Canvas's and Gradescope's roster exports fit (Canvas's ``ID`` is the user id in its
download's file names, Gradescope's ``SID`` the one in its metadata). A submission keyed by an
email that the roster lists is filed under that student's id."""

import csv
import io
import re

from ...files import read_regular
from .common import SubmissionsError

ID = ("id", "student_id", "sid", "student id", "sis user id", "username", "login id",
      "user id", "user_id")
NAME = ("name", "student", "full name", "student name")
FIRST = ("first name", "first_name", "given name")
LAST = ("last name", "last_name", "surname", "family name")
EMAIL = ("email", "email address", "e-mail")


def _column(header, names):
    clean = [re.sub(r"\s+", " ", h.strip().lower()) for h in header]
    return next((clean.index(n) for n in names if n in clean), None)


def read_roster(path):
    """[(id, name, email)] of the students in a roster CSV."""
    try:
        text = read_regular(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SubmissionsError(f"roster {path}: {e}") from e
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or _column(rows[0], ID) is None:
        raise SubmissionsError(f"roster {path} has no id column (one of: {', '.join(ID)})")
    at = {k: _column(rows[0], names) for k, names in
          (("id", ID), ("name", NAME), ("first", FIRST), ("last", LAST), ("email", EMAIL))}
    cell = lambda row, k: row[at[k]].strip() if at[k] is not None and at[k] < len(row) else ""
    students = []
    for row in rows[1:]:
        sid = cell(row, "id")
        if not sid or sid.lower().startswith("points possible"):
            continue  # Canvas's second line holds the points, not a student
        name = cell(row, "name") or " ".join(x for x in (cell(row, "first"), cell(row, "last"))
                                             if x)
        students.append((sid, name, cell(row, "email")))
    return students


def apply(col, students):
    """Every roster student in the collector (absent ones become `missing`); submissions
    keyed by a roster email moved to the roster id; students not on it noted."""
    by_email = {email.lower(): sid for sid, _, email in students if email}
    for key in list(col.people):
        if key.lower() in by_email:
            col.rename(key, by_email[key.lower()])
    listed = {sid for sid, _, _ in students}
    for sid, name, _ in students:
        col.student(sid)
        if not col.people[sid].name:
            col.people[sid].name = name
    unknown = sorted(k for k in col.people if k not in listed)
    for key in unknown:
        col.people[key].notes.append("not on the roster")
    return unknown
