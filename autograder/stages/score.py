"""Stage *score*: each autograded question's verdict from its executed test cell, as stock
nbgrader decides it: a test passes when it ran without error (the worker's own record of the
run, never what the cell displayed), and nbgrader's partial credit is the value of the test's
last expression."""

import nbformat
from nbgrader.utils import determine_grade

from .compare import HIDDEN_FAILED
from .plan import nb_meta

WORKER_STATUS = {"timeout": "the cell ran past the time limit",
                 "memory": "the cell ran out of memory",
                 "disk": "the notebook wrote more than its disk space",
                 "crashed": "the kernel died before this test finished",
                 "tampered": "the test ran under a tracer or on a tampered channel"}


def score(run):
    if run.status:
        return
    by_id = {c["grade_id"]: c for c in run.code if c["kind"] == "test"}
    broken = "protocol violation" in run.events
    for q in run.plan.questions:
        if q.kind == "manual":
            if not answered(run, q.grade_id):
                run.verdicts[q.grade_id] = [0.0, "unanswered", "no response"]
        else:
            cell = by_id[q.grade_id]
            cell["hidden"] = run.plan.hidden_ranges.get(q.grade_id, set())
            run.verdicts[q.grade_id] = list(verdict(q, cell, broken))
            cell.pop("hidden")


def answered(run, grade_id):
    """Whether the student changed the answer cell from what was released (nbgrader gives an
    unchanged one 0 at once, and no person needs to grade it)."""
    from nbgrader.utils import compute_checksum

    want = (run.plan.answers or {}).get(grade_id)
    source = next((c for c in run.plan.cells if nb_meta(c).get("grade_id") == grade_id), None)
    mine = next((c for c in run.cells if c["grade_id"] == grade_id), None)
    if want is None or source is None or mine is None or nb_meta(source).get("task"):
        return True  # a task is graded by a person whatever the notebook holds
    node = nbformat.from_dict({"cell_type": mine["cell_type"], "source": mine["source"],
                               "metadata": {"nbgrader": dict(nb_meta(source))}})
    return compute_checksum(node) != want


def verdict(q, cell, channel_broken=False):
    """(score, status, message) of one autograded question from its executed cell. A test
    cell the student changed or deleted was put back (stage assemble) and judges the code."""
    if channel_broken:
        return 0.0, "tampered", "the student's code wrote into the grader's result channel"
    status = cell.get("status", "crashed")
    if status in WORKER_STATUS:
        return 0.0, status, WORKER_STATUS[status]
    if status != "ok":
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        line = cell.get("line")
        hidden = line is None or line in cell.get("hidden", set())
        message = (HIDDEN_FAILED if hidden or not errors
                   else f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}")
        return 0.0, "failed", message
    node = nbformat.from_dict({"cell_type": "code", "source": cell["source"],
                               "metadata": {"nbgrader": {"grade": True, "solution": False,
                                                         "points": q.points,
                                                         "grade_id": q.grade_id}},
                               "outputs": cell.get("outputs", []), "execution_count": None})
    try:
        points = float(determine_grade(node)[0] or 0.0)
    except ValueError as e:  # a value outside [0, points] is no partial credit
        return 0.0, "failed", f"the test's value is not a score ({e})"
    return points, ("ok" if points >= q.points else "failed"), ""
