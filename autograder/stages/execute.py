"""Stage *execute*: the assembled cells run in a fresh sandbox, one at a time.

Test cells go prepared (`autograder.testcell.prepare`) for the worker's own executor; the
course's plugin names the packages the sandbox mounts. Each pool worker keeps one sandbox
started ahead for its next notebook (`sandbox._Spare`), unless the job says none will follow.
"""

from ..sandbox import run_cells
from ..testcell import prepare


def execute(run):
    if run.status:
        return
    code = run.code
    todo = [_to_run(c, run.plan) for c in code]
    job = run.job
    ran, events = run_cells(job.get("dir"), todo, timeout=job.get("timeout", 30.0),
                            memory_mb=job.get("memory", 2048), mode=job.get("sandbox"),
                            mounts=run.plugin.mounts, disk_mb=job.get("disk", 256),
                            spare=job.get("spare", True))
    run.events += events
    for cell, result in zip(code, ran, strict=True):
        cell.update(result)


def _to_run(cell, plan):
    test = cell["kind"] == "test"
    todo = {"source": cell["source"], "test": test}
    if test:
        todo["prepared"] = prepare(cell["source"], plan.defined)
    return todo
