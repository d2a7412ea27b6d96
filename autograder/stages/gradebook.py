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
    if shutil.which("alembic") is None:
        # nbgrader runs the `alembic` command to set up the database; it lives beside
        # this Python when the virtualenv is not activated.
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
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
