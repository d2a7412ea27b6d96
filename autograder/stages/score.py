"""Stage *score*: each autograded question's verdict from its executed test cell, as stock
nbgrader decides it: a test passes when it ran without error (the worker's own record of the
run, never what the cell displayed), and nbgrader's partial credit is the value of the test's
last expression."""

import nbformat
from nbgrader.utils import determine_grade

WORKER_STATUS = {"timeout": "the cell ran past the time limit",
                 "memory": "the cell ran out of memory",
                 "crashed": "the kernel died before this test finished",
                 "tampered": "the test ran under a tracer or on a tampered channel"}


def score(run):
    if run.status:
        return
    by_id = {c["grade_id"]: c for c in run.code if c["kind"] == "test"}
    broken = "protocol violation" in run.events
    for q in run.plan.questions:
        if q.kind == "auto":
            cell = by_id[q.grade_id]
            cell["hidden"] = run.plan.hidden_ranges.get(q.grade_id, set())
            run.verdicts[q.grade_id] = list(verdict(q, cell, q.grade_id in run.tampered
                                                    or broken))
            cell.pop("hidden")


def verdict(q, cell, tampered):
    """(score, status, message) of one autograded question from its executed cell."""
    if tampered:
        return 0.0, "tampered", "the test cell was edited or removed; the original was run"
    status = cell.get("status", "crashed")
    if status in WORKER_STATUS:
        return 0.0, status, WORKER_STATUS[status]
    if status != "ok":
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        line = cell.get("line")
        hidden = line is None or line in cell.get("hidden", set())
        message = ("a hidden test failed" if hidden or not errors
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
