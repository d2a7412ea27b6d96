"""Stage *assemble*: the submitted notebook read (regular files only) and the cells to run
built from it, with every locked and test cell taken from the instructors' source.

Restoring cells the student changed or deleted, and matching notebooks whose nbgrader
metadata is gone, happens here.
"""

import nbformat

from ..files import describe, read_regular, scan, what
from .plan import cell_kind, nb_meta, same_text


def read(run):
    """The submitted notebook, or the notebook's status decided as a whole."""
    job = run.job
    skipped = list(job.get("skipped") or [])
    if job.get("dir") and what(job["dir"]) == "folder":
        skipped += [s for s in scan(job["dir"])[1] if s not in skipped]
    job["skipped"] = sorted(skipped)
    if job.get("path") is None:
        run.status, run.note = "missing", "no notebook was submitted"
    else:
        try:
            run.nb = _read_notebook(job["path"])
        except Exception as e:  # anything unreadable is the submission's fault, not ours
            run.status = "invalid"
            run.note = f"the notebook could not be read ({type(e).__name__})"
    if run.status:
        run.note = "; ".join(n for n in (run.note, describe(job["skipped"])) if n)


def _read_notebook(path):
    text = read_regular(path).decode("utf-8")
    nb = nbformat.reads(text, as_version=4)
    if not isinstance(nb.get("cells"), list):
        raise ValueError("no cells")
    for cell in nb.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError("unknown cell type")
    return nb


def assemble(run):
    if not run.status:
        run.cells, run.tampered = assemble_cells(run.plan, run.nb)


def assemble_cells(plan, nb):
    """The cells to run: the submission's, with every locked and test cell replaced by the
    instructors' version (deleted ones put back). Returns (cells, tampered grade_ids)."""
    protected = {nb_meta(c).get("grade_id"): (cell_kind(c), c) for c in plan.cells
                 if nb_meta(c).get("grade_id") and cell_kind(c) in ("test", "locked")}
    out, used, tampered = [], set(), set()
    for cell in nb.cells:
        gid = nb_meta(cell).get("grade_id")
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        if gid in protected and gid not in used:
            kind, src = protected[gid]
            used.add(gid)
            if kind == "test" and not (same_text(source, plan.release[gid])
                                       or same_text(source, src.source)):
                tampered.add(gid)
            out.append(_cell(src.cell_type, kind, gid, src.source))
        elif cell.get("cell_type") in ("code", "markdown"):
            kind = cell_kind(cell) if gid else "plain"
            kind = kind if kind in ("solution", "manual", "task") else "student"
            out.append(_cell(cell.get("cell_type"), kind, gid, source))
    _put_back(plan, protected, used, out, tampered)
    return out, tampered


def _cell(cell_type, kind, grade_id, source):
    return {"cell_type": cell_type, "kind": kind, "grade_id": grade_id, "source": source}


def _put_back(plan, protected, used, out, tampered):
    """Put back the protected cells the student deleted, after their predecessor in the
    source (a deleted test cell is tampered)."""
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
            out.insert(at, _cell(cell.cell_type, kind, gid, cell.source))
            used.add(gid)
        if gid:
            previous = gid
