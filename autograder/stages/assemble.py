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
        notes = (run.note, *job.get("notes", []), describe(job["skipped"]))
        run.note = "; ".join(n for n in notes if n)


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
    if run.status:
        return
    nb = run.nb
    if not any(nb_meta(c) for c in nb.cells):
        nb, why = match_by_content(run.plan, nb)
        if nb is None:
            run.status, run.note = "invalid", why
            return
        run.events.append(why)
    run.cells, run.restored = assemble_cells(run.plan, nb)


def assemble_cells(plan, nb):
    """The cells to run: the submission's, with every locked and test cell replaced by the
    instructors' version and put back where it was deleted, as nbgrader's OverwriteCells
    with add_missing_cells does (and for locked cells too). Returns (cells, restored): what
    was put back, {grade_id: 'edited' | 'emptied' | 'deleted' | 'type changed'}."""
    protected = {nb_meta(c).get("grade_id"): (cell_kind(c), c) for c in plan.cells
                 if nb_meta(c).get("grade_id") and cell_kind(c) in ("test", "locked")}
    out, restored, used = [], {}, set()
    for cell in nb.cells:
        gid = nb_meta(cell).get("grade_id")
        source = _text(cell)
        if gid in protected and gid not in used:
            used.add(gid)
            kind, src = protected[gid]
            why = _change(cell, source, src, plan.release.get(gid) if kind == "test" else None)
            if why:
                restored[gid] = why
            out.append(_cell(src.cell_type, kind, gid, src.source))
        elif cell.get("cell_type") in ("code", "markdown"):
            kind = cell_kind(cell) if gid and gid not in protected else "plain"
            kind = kind if kind in ("solution", "manual", "task") else "student"
            out.append(_cell(cell.get("cell_type"), kind, gid if kind != "student" else None,
                             source))
    _put_back(plan, protected, out, restored)
    return out, restored


def _text(cell):
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _change(cell, source, src, released):
    """Why a protected cell of the submission differs from what was released, or ''."""
    if cell.get("cell_type") != src.cell_type:
        return "type changed"
    if same_text(source, src.source) or released is not None and same_text(source, released):
        return ""
    return "emptied" if not source.strip() else "edited"


def _cell(cell_type, kind, grade_id, source):
    return {"cell_type": cell_type, "kind": kind, "grade_id": grade_id, "source": source}


def _put_back(plan, protected, out, restored):
    """Put back the protected cells the student deleted, after their predecessor in the
    source (the cell before them that has a grade_id), or first."""
    previous = None
    present = {c["grade_id"] for c in out if c["grade_id"]}
    for cell in plan.cells:
        gid = nb_meta(cell).get("grade_id")
        if gid in protected and gid not in present:
            at = 0
            for i, c in enumerate(out):
                if previous is not None and c["grade_id"] == previous:
                    at = i + 1
            out.insert(at, _cell(cell.cell_type, protected[gid][0], gid, cell.source))
            present.add(gid)
            restored[gid] = "deleted"
        if gid:
            previous = gid


# ------------------------------------------------- notebooks that lost nbgrader's metadata

def _release_key(plan, cell):
    """What a source cell looked like in the release, for matching, or None for an answer
    cell (its content is the student's)."""
    kind = cell_kind(cell)
    if kind in ("solution", "manual", "task"):
        return None
    text = plan.release.get(nb_meta(cell).get("grade_id")) if kind == "test" else cell.source
    return (cell.cell_type, _norm(text))


def _norm(text):
    return "\n".join(line.rstrip() for line in (text or "").strip().splitlines())


def match_by_content(plan, nb):
    """The submission with nbgrader's metadata put back from the source by matching its
    cells to the release in order and content (a notebook saved by a tool that drops cell
    metadata, or copied cell by cell). Returns (notebook, note) or (None, reason)."""
    import copy
    import difflib

    keys = [_release_key(plan, c) for c in plan.cells]
    sub = [(c.get("cell_type"), _norm(_text(c))) for c in nb.cells]
    matcher = difflib.SequenceMatcher(None, keys, sub, autojunk=False)
    nb = copy.deepcopy(nb)
    anchors = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                if nb_meta(plan.cells[i]).get("grade_id"):
                    anchors += cell_kind(plan.cells[i]) in ("test", "locked")
                    nb.cells[j].metadata["nbgrader"] = dict(nb_meta(plan.cells[i]))
        else:
            _match_answers(plan.cells[i1:i2], nb.cells[j1:j2])
    if not anchors:
        return None, ("the notebook has no nbgrader metadata and none of its cells matches a "
                      "read-only or test cell of the release")
    return nb, "no nbgrader metadata: cells matched to the release by order and content"


def _match_answers(released, submitted):
    """Give the answer cells of a stretch of the release to the submission's cells of the
    same stretch: one to one in order when the stretch has as many cells of each type."""
    answers = [c for c in released if cell_kind(c) in ("solution", "manual", "task")]
    for cell_type in ("code", "markdown"):
        mine = [c for c in answers if c.cell_type == cell_type]
        theirs = [c for c in submitted if c.get("cell_type") == cell_type]
        if mine and len(mine) == len(theirs):
            for src, cell in zip(mine, theirs, strict=True):
                cell.metadata["nbgrader"] = dict(nb_meta(src))
