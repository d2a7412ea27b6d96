"""Stage *course*: what `nbgrader autograde` leaves in a course, written by this grader, so
that formgrader, `nbgrader release_feedback` and the rest of nbgrader work after it.

Only when the instructor names the course (``--course ROOT``). Per notebook:

* ``submitted/<student>/<assignment>/``: for inputs that are not the course's own submitted
  folder (zips, LMS downloads), the submission as nbgrader's ``zip_collect`` would leave it,
  with a ``timestamp.txt``;
* ``autograded/<student>/<assignment>/<notebook>.ipynb``: the executed notebook with nbgrader's
  metadata (formgrader shows it to graders; it holds the hidden tests, like nbgrader's), and
  the source's other files, as nbgrader copies them;
* the gradebook: the submission with its timestamp, a grade for every grade cell (manual
  grades already given are kept and flagged for review, as nbgrader does), "No response."
  for answers left as released, and nbgrader's late penalty (``AssignLatePenalties``);
* ``feedback/<student>/<assignment>/<notebook>.html``: this grader's scrubbed page, with the
  manual grades and comments of the gradebook, beside the ``timestamp.txt`` and
  ``submission_secret.txt`` that ``nbgrader release_feedback`` needs.

`python -m autograder feedback` re-renders the feedback after manual grading.
"""

import shutil
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id

from ..files import copy_regular, read_regular, what
from ..io import atomic_write
from .plan import nb_meta

STATE_KEY = "autograded"  # the key of a notebook result that holds the executed notebook


def autograded(run):
    """Notebook stage: the executed notebook, as nbgrader's autograded/ holds it (only when
    the job asks for it: a run in a named course)."""
    if not run.job.get("course") or run.status:
        return
    by_id = {nb_meta(c).get("grade_id"): c for c in run.plan.cells if nb_meta(c).get("grade_id")}
    cells = [_notebook_cell(c, by_id, run) for c in run.cells]
    meta = dict(run.nb.get("metadata", {}))
    meta["autograder"] = {"note": run.note, "status": run.result()["status"]}
    nb = _node_notebook(cells, meta)
    run.extra[STATE_KEY] = nbformat.writes(_valid(nb))


def _node_notebook(cells, metadata):
    # (nbformat.v4.new_notebook validates, and raises on an output the student's code made
    # invalid before `_valid` could drop it)
    return nbformat.from_dict({"cells": cells, "metadata": metadata, "nbformat": 4,
                               "nbformat_minor": nbformat.v4.nbformat_minor})


def _notebook_cell(cell, by_id, run):
    gid = cell["grade_id"]
    meta = {"autograder": {"kind": cell["kind"], "status": cell.get("status", "")}}
    if gid in by_id:
        meta["nbgrader"] = dict(nb_meta(by_id[gid]))
        if gid in (run.plan.answers or {}):
            meta["nbgrader"]["checksum"] = run.plan.answers[gid]
        verdict = run.verdicts.get(gid) or (
            [cell.get("score"), cell.get("status"), cell.get("message")]
            if cell.get("verdict") else None)
        if verdict:
            meta["autograder"].update(verdict=verdict[1], message=verdict[2] or "",
                                      restored=run.restored.get(gid, ""))
    # Built as plain nodes: nbformat's new_*_cell validate each cell against the schema
    # with jsonschema (most of this stage's time); `_valid` checks the notebook once.
    kind = "markdown" if cell["cell_type"] == "markdown" else "code"
    node = {"id": random_cell_id(), "cell_type": kind, "metadata": meta,
            "source": cell["source"]}
    if kind == "code":
        node.update(execution_count=None, outputs=cell.get("outputs", []))
    return nbformat.from_dict(node)


def _valid(nb):
    """The notebook, with the outputs of any cell nbformat refuses dropped."""
    try:
        nbformat.validate(nb)  # one pass over the schema: almost every notebook is valid
        return nb
    except nbformat.ValidationError:
        pass
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))
            except nbformat.ValidationError:
                cell.outputs = []
    return nb


# ------------------------------------------------------------- the grader process's side

def coursedir(settings):
    """nbgrader's CourseDirectory of the course, with its configuration."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    cd = CourseDirectory(config=Config(settings.config) if settings.config else Config())
    if not settings.config.get("CourseDirectory", {}).get("root"):
        cd.root = str(settings.course)
    return cd


def folder(cd, step, student, assignment):
    return Path(cd.format_path(getattr(cd, f"{step}_directory"), student, assignment))


def write(run):
    """Class stage: every graded notebook's folders in the course, the gradebook and the
    feedback pages."""
    if not run.settings.in_course:
        return
    cd = coursedir(run.settings)
    jobs = {j["key"]: j for j in run.jobs}
    texts = {}
    for res in run.results:
        sub = folder(cd, "submitted", res["student"], res["assignment"])
        _write_submitted(jobs.get(res.get("key"), {}), sub)
        if res.get(STATE_KEY):
            out = folder(cd, "autograded", res["student"], res["assignment"])
            _write_autograded(run, res, sub, out)
            texts[(res["student"], res["assignment"], res["notebook"])] = res[STATE_KEY]
    from .gradebook import record_course

    grades = record_course(cd, run)
    write_feedback(cd, run.settings, run.plans,
                   {(r["student"], r["assignment"], r["notebook"]) for r in run.results},
                   grades, texts)


def _write_submitted(job, sub):
    """The submission in the course's submitted/ folder, unless it is already there."""
    src = job.get("dir")
    if not src or not job.get("path") or Path(src).resolve() == sub.resolve():
        return
    copy_regular(src, sub)
    if not (sub / "timestamp.txt").exists():
        atomic_write(sub / "timestamp.txt", (job.get("timestamp") or _now()) + "\n")


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def _write_autograded(run, res, sub, out):
    out.mkdir(parents=True, exist_ok=True)
    for name in (p.name for p in sub.iterdir() if what(p) == "file"):
        if name not in ("timestamp.txt",) and not name.endswith(".ipynb"):
            shutil.copyfile(sub / name, out / name)
    source = Path(run.settings.source) / res["assignment"]
    for path in source.iterdir():  # the instructors' versions of the other files win
        if what(path) == "file" and path.suffix != ".ipynb":
            shutil.copyfile(path, out / path.name)
    atomic_write(out / f"{res['notebook']}.ipynb", res[STATE_KEY])


def write_feedback(cd, settings, plans, notebooks, grades=None, texts=None):
    """The feedback pages of `notebooks` ((student, assignment, notebook)) in nbgrader's
    feedback/ layout, from the autograded notebooks and the gradebook's grades and
    comments (manual ones included); returns the pages written. `grades`: the gradebook's
    (`gradebook.graded`) when the caller has read them; `texts`: the autograded notebooks
    this run has just written and validated, by key (the others are read from disk)."""
    from .feedback import render_graded
    from .gradebook import graded

    written = []
    if grades is None:
        grades = graded(settings.gradebook_url(), notebooks)
    texts = texts or {}
    for student, assignment, notebook in sorted(notebooks):
        key = (student, assignment, notebook)
        path = folder(cd, "autograded", student, assignment) / f"{notebook}.ipynb"
        if what(path) != "file" or key not in grades:
            continue
        if key in texts:
            nb = nbformat.v4.reads(texts[key])  # (nbformat.reads would validate again)
        else:
            nb = nbformat.reads(read_regular(path).decode("utf-8"), as_version=4)
        page = render_graded(student, assignment, notebook, nb, plans[assignment][notebook],
                             grades[key])
        dest = folder(cd, "feedback", student, assignment)
        atomic_write(dest / f"{notebook}.html", page)
        written.append(dest / f"{notebook}.html")
        sub = folder(cd, "submitted", student, assignment)
        for name in ("timestamp.txt", "submission_secret.txt"):
            if what(sub / name) == "file":
                atomic_write(dest / name, read_regular(sub / name))
    return written


def feedback_dirs(run):
    """The feedback folders this run wrote (the leak scan covers them)."""
    if not run.settings.in_course:
        return []
    cd = coursedir(run.settings)
    return sorted({folder(cd, "feedback", r["student"], r["assignment"]) for r in run.results})


