"""Stage *compare*: the course's own check of a passing test's outputs, outside the sandbox.

The course's plugin (`autograder.plugins`) decides; without one, nothing changes here and
the grades are stock nbgrader's. This course's plugin compares the arrays a hidden test
submitted with references it recomputes from the case's seed and sizes.
"""


#: The message of a failed hidden line that the plugin may replace with its explanation.
HIDDEN_FAILED = "a hidden test failed"


def compare(run):
    if run.status:
        return
    outputs = {c["grade_id"]: c.get("outputs", []) for c in run.code if c["kind"] == "test"}
    for q in run.plan.questions:
        v = run.verdicts.get(q.grade_id)
        if v is None or q.data is None:
            continue
        if v[0] <= 0:
            # A failed hidden line says nothing itself (it could print hidden inputs); the
            # plugin says what it can from the outputs, outside the sandbox.
            if v[1] == "failed" and v[2] == HIDDEN_FAILED:
                v[2] = run.plugin.explain(q.data, outputs[q.grade_id]) or v[2]
            continue
        passed, message = run.plugin.compare(q.data, outputs[q.grade_id])
        if not passed:
            v[:] = [0.0, "failed", message]
