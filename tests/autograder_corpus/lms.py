"""Submissions as real learning-management systems hand them over, built from each format's
documented layout (docs/grader.md, *Inputs*), for the grader's input adapters.

* `gradescope_export`: "Export Submissions" of a programming assignment: a wrapper folder
  ``assignment_<id>_export/`` with ``submission_<id>/`` folders and ``submission_metadata.yml``
  (keys = those folders; ``:submitters:`` with ``:name:``, ``:sid:``, ``:email:``;
  ``:created_at:`` as ``2020-02-27 06:58:05.746365000 Z``; ``:score:``), as in otter-grader's
  sample export.
* `canvas_zip`: "Download Submissions": flat files
  ``<sortable name, lowercased, letters and digits only>_[LATE_]<user id>_<file id>_<file>``.
* `moodle_zip`: "Download all submissions" (in folders):
  ``<First Last>_<participant id>_assignsubmission_file_/<file>``.
* `zipcollect_folder`: nbgrader's ``downloaded/<assignment>/archive/`` with the file names of
  nbgrader's own zip_collect example (``<assignment>_<student>_attempt_<time>_<notebook>``),
  and the ``named_regexp`` that reads them.
"""

import os
import zipfile
from pathlib import Path

import nbformat

#: nbgrader's documented example regexp for the names below.
ZIPCOLLECT_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.*)"


def _text(nb):
    return nb if isinstance(nb, str) else nbformat.writes(nb)


def _write(path, nb, mtime=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_text(nb), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def gradescope_export(dest, submissions, assignment_id=424242):
    """`submissions`: [(submitters [(name, sid, email)], created_at text, {file: nb or
    (nb, mtime)})]. Returns the export's wrapper folder."""
    top = Path(dest) / f"assignment_{assignment_id}_export"
    lines = ["---"]
    for n, (people, created, files) in enumerate(submissions, start=1):
        key = f"submission_{1000 + n}"
        for name, item in files.items():
            nb, mtime = item if isinstance(item, tuple) else (item, None)
            _write(top / key / name, nb, mtime)
        lines.append(f"{key}:")
        lines.append("  :submitters:")
        for name, sid, email in people:
            lines += [f"  - :name: {name}", f"    :sid: '{sid}'", f"    :email: {email}"]
        lines += [f"  :created_at: {created}", "  :score: 0.0"]
    (top / "submission_metadata.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return top


def canvas_zip(path, files):
    """`files`: [(sortable name, user id, late, file id, file name, nb)]."""
    with zipfile.ZipFile(path, "w") as z:
        for name, uid, late, file_id, filename, nb in files:
            parts = [name] + (["LATE"] if late else []) + [str(uid), str(file_id), filename]
            z.writestr("_".join(parts), _text(nb))
    return path


def moodle_zip(path, students):
    """`students`: [(full name, participant id, {file: nb})]."""
    with zipfile.ZipFile(path, "w") as z:
        for name, pid, files in students:
            folder = f"{name.replace('_', ' ')}_{pid}_assignsubmission_file_"
            for filename, nb in files.items():
                z.writestr(f"{folder}/{filename}", _text(nb))
    return path


def zipcollect_folder(downloaded, assignment, attempts):
    """`attempts`: [(student id, time 'YYYY-MM-DD-HH-MM-SS', notebook, nb)] under
    `downloaded/<assignment>/archive/`, all but the first zipped as nbgrader's example is."""
    archive = Path(downloaded) / assignment / "archive"
    archive.mkdir(parents=True)
    first, rest = attempts[0], attempts[1:]
    _write(archive / f"{assignment}_{first[0]}_attempt_{first[1]}_{first[2]}.ipynb", first[3])
    with zipfile.ZipFile(archive / "notebooks.zip", "w") as z:
        for sid, when, notebook, nb in rest:
            z.writestr(f"{assignment}_{sid}_attempt_{when}_{notebook}.ipynb", _text(nb))
    return archive
