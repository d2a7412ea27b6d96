"""Grade one student's notebook: assemble it, run it in the sandbox, score every question.

`grade_job` is a pure function of its job dict (picklable, JSON-able result), so the same
call runs in a local process pool and on a Dask worker.
"""

import json

import nbformat
from nbgrader.utils import determine_grade

from .feedback import Scrubber, render
from .files import describe, read_regular, scan, what
from .plan import cell_kind, nb_meta, same_text
from .reference import check_cases
from .sandbox import run_cells
from .testcell import prepare

EVENTS = ("timeout", "memory", "crashed", "tampered")


def assemble(plan, nb):
    """The cells to run: the submission's, with every locked and test cell replaced by the
    instructors' version (deleted ones put back). Returns (cells, tampered grade_ids)."""
    protected = {}
    for cell in plan.cells:
        kind = cell_kind(cell)
        gid = nb_meta(cell).get("grade_id")
        if gid and kind in ("test", "locked"):
            protected[gid] = (kind, cell)
    out, used, tampered = [], set(), set()
    for cell in nb.cells:
        gid = nb_meta(cell).get("grade_id")
        ctype = cell.get("cell_type")
        source = cell.get("source", "")
        if not isinstance(source, str):
            source = "".join(source)
        if gid in protected and gid not in used:
            kind, src = protected[gid]
            used.add(gid)
            if kind == "test" and not (same_text(source, plan.release[gid])
                                       or same_text(source, src.source)):
                tampered.add(gid)
            out.append({"cell_type": src.cell_type, "kind": kind, "grade_id": gid,
                        "source": src.source})
        elif ctype in ("code", "markdown"):
            kind = cell_kind(cell) if gid else "plain"
            kind = kind if kind in ("solution", "manual", "task") else "student"
            out.append({"cell_type": ctype, "kind": kind, "grade_id": gid, "source": source})
    # Put back the protected cells the student deleted, after their predecessor in the source.
    previous = None
    for cell in plan.cells:
        gid = nb_meta(cell).get("grade_id")
        if gid in protected and gid not in used:
            kind = protected[gid][0]
            if kind == "test":
                tampered.add(gid)
            at = 0
            for i, c in enumerate(out):
                if previous is not None and c["grade_id"] == previous:
                    at = i + 1
            out.insert(at, {"cell_type": cell.cell_type, "kind": kind, "grade_id": gid,
                            "source": cell.source})
            used.add(gid)
        if gid:
            previous = gid
    return out, tampered


def _row(job, q, score, status, note=""):
    return {"student": job["student"], "assignment": job["assignment"],
            "notebook": job["notebook"], "question": q.grade_id,
            "score": score if score == "" else round(float(score), 6),
            "max_score": q.points, "status": status, "note": note}


def _read_notebook(path):
    text = read_regular(path).decode("utf-8")
    nb = nbformat.reads(text, as_version=4)
    if not isinstance(nb.get("cells"), list):
        raise ValueError("no cells")
    for cell in nb.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError("unknown cell type")
    return nb


WORKER_STATUS = {"timeout": "the cell ran past the time limit",
                 "memory": "the cell ran out of memory",
                 "crashed": "the kernel died before this test finished",
                 "tampered": "the test ran under a tracer or on a tampered channel"}


def _verdict(q, cell, tampered, protocol_broken):
    """(score, status, message) of one autograded question from its executed cell. Whether
    the test raised is the worker's own record of the run (its status), never what the cell
    displayed; the outputs only give nbgrader's partial credit of a test that passed."""
    if q.grade_id in tampered or protocol_broken:
        return 0.0, "tampered", "the test cell was edited or removed; the original was run"
    status = cell.get("status", "crashed")
    if status in WORKER_STATUS:
        return 0.0, status, WORKER_STATUS[status]
    message = ""
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
        score = float(determine_grade(node)[0] or 0.0)
    except ValueError as e:  # a value outside [0, points] is no partial credit
        return 0.0, "failed", f"the test's value is not a score ({e})"
    if score > 0 and q.cases:
        ok, why = check_cases(q, cell.get("outputs", []))
        if not ok:
            score, message = 0.0, why
    return score, ("ok" if score >= q.points else "failed"), message


def _altered(cells):
    """What the student's code changed that the worker watches, in the order first seen."""
    seen = []
    for c in cells:
        seen += [a for a in c.get("altered", []) if a not in seen]
    return seen


def _notes(job, code, events):
    notes = [describe(job.get("skipped") or [])]
    altered = _altered(code)
    if altered:
        notes.append("seen in the student's code: " + ", ".join(altered)
                     + " (tests ran without them)")
    notes += [e for e in events if e != "protocol violation"]
    if "protocol violation" in events:
        notes.append("student code wrote into the grader's result channel")
    return "; ".join(n for n in notes if n)


def _skipped_files(job):
    """Add to job['skipped'] what of the student's folder is not a regular file."""
    skipped = list(job.get("skipped") or [])
    if job.get("dir") and what(job["dir"]) == "folder":
        skipped += [s for s in scan(job["dir"])[1] if s not in skipped]
    job["skipped"] = sorted(skipped)


def grade_job(job):
    """Grade one (student, assignment, notebook). Job keys: student, assignment, notebook,
    plan (NotebookPlan), path (submitted .ipynb or None), dir (folder of its files),
    skipped ((name, kind) of special files left out), timeout, memory, sandbox.
    Returns {key, rows, feedback, events, status}."""
    plan = job["plan"]
    scrubber = Scrubber(plan.secrets)
    result = {"student": job["student"], "assignment": job["assignment"],
              "notebook": job["notebook"], "events": []}
    _skipped_files(job)

    def whole(status, note):
        full = "; ".join(n for n in (note, describe(job["skipped"])) if n)
        rows = [_row(job, q, 0.0, status, full) for q in plan.questions]
        result.update(rows=rows, status=status,
                      feedback=render(job["student"], job["assignment"], job["notebook"], rows,
                                      [], plan, scrubber, full))
        return result

    if job.get("path") is None:
        return whole("missing", "no notebook was submitted")
    try:
        nb = _read_notebook(job["path"])
    except Exception as e:  # anything unreadable is the submission's fault, not ours
        return whole("invalid", f"the notebook could not be read ({type(e).__name__})")
    cells, tampered = assemble(plan, nb)
    code = [c for c in cells if c["cell_type"] == "code"]
    ran, events = run_cells(job.get("dir"), [_to_run(c, plan) for c in code],
                            timeout=job.get("timeout", 30.0), memory_mb=job.get("memory", 2048),
                            mode=job.get("sandbox"))
    for c, r in zip(code, ran, strict=True):
        c.update(r)
        if c["kind"] == "test":
            c["hidden"] = plan.hidden_ranges.get(c["grade_id"], set())
    result["events"] = events
    note = _notes(job, code, events)
    rows = _score(job, plan, code, tampered, "protocol violation" in events, note)
    statuses = {r["status"] for r in rows}
    status = next((s for s in ("tampered", "crashed", "memory", "timeout", "failed")
                   if s in statuses), "ok")
    for c in code:
        c.pop("hidden", None)
    result.update(rows=rows, status=status,
                  feedback=render(job["student"], job["assignment"], job["notebook"], rows,
                                  cells, plan, scrubber, note))
    json.dumps(result)  # the result travels between processes and machines as JSON
    return result


def _to_run(cell, plan):
    test = cell["kind"] == "test"
    run = {"source": cell["source"], "test": test}
    if test:
        run["prepared"] = prepare(cell["source"], plan.defined)
    return run


def _score(job, plan, code, tampered, protocol_broken, note):
    """One row per question of the notebook, from its executed cells."""
    by_id = {c["grade_id"]: c for c in code if c["kind"] == "test"}
    position = {c["grade_id"]: i for i, c in enumerate(code) if c["kind"] == "test"}
    first_event = next(((i, c["status"]) for i, c in enumerate(code)
                        if c["status"] in EVENTS[:3]), None)
    rows = []
    for q in plan.questions:
        if q.kind == "manual":
            rows.append(_row(job, q, "", "manual", note))
            continue
        cell = by_id[q.grade_id]
        score, status, message = _verdict(q, cell, tampered, protocol_broken)
        # A question lost because an earlier cell hung, blew the memory or killed the
        # kernel carries that cause rather than a plain "failed".
        if status == "failed" and first_event and first_event[0] <= position[q.grade_id]:
            status = first_event[1]
        cell["verdict"] = "pass" if status == "ok" else "fail"
        cell["message"] = message
        rows.append(_row(job, q, score, status, note))
    return rows
