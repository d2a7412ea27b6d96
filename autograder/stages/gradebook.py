"""Record a grading run in nbgrader's gradebook (``--gradebook URL``), through nbgrader's own
`Gradebook` API, so that written answers are graded in formgrader as usual."""

import os
import shutil
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .plan import cell_kind, nb_meta


def _declare(gb, plans):
    for a, notebooks in plans.items():
        gb.update_or_create_assignment(a)
        for nb, plan in notebooks.items():
            gb.update_or_create_notebook(nb, a)
            for cell in plan.cells:
                meta = nb_meta(cell)
                gid = meta.get("grade_id")
                if not gid:
                    continue
                kind = cell_kind(cell)
                points = float(meta.get("points", 0) or 0)
                if kind in ("test", "manual"):
                    gb.update_or_create_grade_cell(gid, nb, a, max_score=points,
                                                   cell_type=cell.cell_type)
                if kind == "task":
                    gb.update_or_create_task_cell(gid, nb, a, max_score=points,
                                                  cell_type=cell.cell_type)
                if kind in ("manual", "solution"):
                    gb.update_or_create_solution_cell(gid, nb, a)


def record(url, plans, rows):
    """Write every row into the gradebook at `url`: automatic scores as ``auto_score``,
    manual questions left for a person (``needs_manual_grade``)."""
    _alembic_on_path()
    with Gradebook(url) as gb:
        _declare(gb, plans)
        pairs = sorted({(r["student"], r["assignment"]) for r in rows})
        for student, assignment in pairs:
            gb.update_or_create_student(student)
            try:
                gb.find_submission(assignment, student)
            except MissingEntry:
                gb.add_submission(assignment, student)
        for r in rows:
            grade = gb.find_grade(r["question"], r["notebook"], r["assignment"], r["student"])
            if r["status"] == "manual":
                grade.auto_score = None
                grade.needs_manual_grade = True
            else:
                grade.auto_score = float(r["score"] or 0.0)
                grade.needs_manual_grade = False
        gb.db.commit()


def record_course(cd, run):
    """The gradebook of a named course after this run, as `nbgrader autograde` leaves it:
    each submission with the timestamp of its submitted/ folder, every grade (a manual grade
    already given is kept, and the question flagged for review), "No response." for answers
    left as released, and nbgrader's late penalty (AssignLatePenalties, configurable).
    Returns `graded` of the notebooks graded."""
    from nbgrader.utils import parse_utc

    from .course import folder

    _alembic_on_path()
    url = run.settings.gradebook_url()
    rows = [r for res in run.results for r in res["rows"]]
    with Gradebook(url) as gb:
        _declare(gb, run.plans)
        for student, assignment in sorted({(r["student"], r["assignment"]) for r in rows}):
            gb.update_or_create_student(student)
            stamp = cd.get_existing_timestamp(str(folder(cd, "submitted", student, assignment)))
            gb.update_or_create_submission(assignment, student, timestamp=parse_utc(stamp))
        by_notebook = {}
        for r in rows:
            by_notebook.setdefault((r["student"], r["assignment"], r["notebook"]), []).append(r)
        for (student, assignment, notebook), nb_rows in by_notebook.items():
            sub = gb.find_submission_notebook(notebook, assignment, student)
            grades = {g.name: g for g in sub.grades}  # two queries, not two per question
            comments = {c.name: c for c in sub.comments}
            for r in nb_rows:
                _grade(grades[r["question"]], comments.get(r["question"]), r)
        gb.db.commit()
        notebooks = {(r["student"], r["assignment"], r["notebook"]) for r in rows}
        _late_penalties(cd, gb, notebooks)
        return _graded(gb, notebooks)  # what the feedback pages show, in the same session


def _grade(grade, comment, r):
    if r["status"] == "manual":
        grade.auto_score = None
    else:
        grade.auto_score = float(r["score"] or 0.0)
    # As nbgrader's SaveAutoGrades: a person looks at what has no automatic score, and again
    # at what a person graded before this run.
    grade.needs_manual_grade = grade.auto_score is None or grade.manual_score is not None
    if comment is not None:
        comment.auto_comment = "No response." if r["status"] == "unanswered" else None


def _late_penalties(cd, gb, notebooks):
    """nbgrader's AssignLatePenalties for every graded notebook, in one gradebook session
    (the preprocessor opens one per notebook): its configured plugin and its bounds."""
    from nbgrader.preprocessors import AssignLatePenalties

    penalties = AssignLatePenalties(config=cd.config)
    penalties.init_plugin()
    for student, assignment, notebook in sorted(notebooks):
        late = gb.find_submission(assignment, student).total_seconds_late
        sub = gb.find_submission_notebook(notebook, assignment, student)
        sub.late_submission_penalty = None
        if late > 0:
            penalty = penalties.plugin_inst.late_submission_penalty(student, sub.score, late)
            if penalty is not None:
                sub.late_submission_penalty = penalties._check_late_penalty(sub, penalty)
    gb.db.commit()


def graded(url, notebooks):
    """{(student, assignment, notebook): {"late": seconds, "penalty": points, "grades":
    {grade_id: {auto, manual, max, comment, needs_manual}}}} from the gradebook."""
    with Gradebook(url) as gb:
        return _graded(gb, notebooks)


def _graded(gb, notebooks):
    found = {}
    for student, assignment, notebook in notebooks:
        try:
            sub = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            continue
        comments = {c.name: c for c in sub.comments}
        found[(student, assignment, notebook)] = {
            "late": sub.assignment.total_seconds_late,
            "penalty": sub.late_submission_penalty or 0.0,
            "grades": {g.name: {"auto": g.auto_score, "manual": g.manual_score,
                                "max": g.max_score, "needs_manual": g.needs_manual_grade,
                                "comment": _comment(comments.get(g.name))}
                       for g in sub.grades}}
    return found


def _comment(c):
    if c is None:
        return ""
    return c.manual_comment or c.auto_comment or ""


def _alembic_on_path():
    if shutil.which("alembic") is None:
        # nbgrader runs the `alembic` command to set up the database; it lives beside
        # this Python when the virtualenv is not activated.
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
