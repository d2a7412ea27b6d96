"""Stage *compare*: the course's own check of a passing test's outputs, outside the sandbox.

The course's plugin (`autograder.plugins`) decides; without one, nothing changes here and
the grades are stock nbgrader's. This course's plugin compares the arrays a hidden test
submitted with references it recomputes from the case's seed and sizes.
"""


def compare(run):
    if run.status:
        return
    outputs = {c["grade_id"]: c.get("outputs", []) for c in run.code if c["kind"] == "test"}
    for q in run.plan.questions:
        v = run.verdicts.get(q.grade_id)
        if v is None or q.data is None or v[0] <= 0:
            continue
        passed, message = run.plugin.compare(q.data, outputs[q.grade_id])
        if not passed:
            v[:] = [0.0, "failed", message]
