"""The independent-implementations corpus (tests/corpus/): notebooks filled with code written
the ways students write it, and what each of them should earn.

``tests/corpus/<assignment>/<style>.py`` is one *style*: correct implementations of the
assignment's graded functions written deliberately unlike rnnlib's (in-place updates, loops
over steps that call the step functions, other caches, float32-keeping code, CS231n's own
structure), or a *wrong* style, whose module constants say what it should lose:

- ``LOSES = {grade_id: why}``: the questions it loses, its own bugs and their cascades;
- ``VISIBLE = {grade_id: why}``: questions whose *visible* test fails although the hidden
  test gives full marks, because the visible check is stricter (a gradient check
  differentiates the student's own forward, as CS231n's do, where the hidden test only takes
  the forward's cache); the only disagreements between visible and hidden verdicts allowed,
  each written down;
- ``OMIT = [name, ...]``: functions it deletes from the notebook (a paste cell that names
  fewer functions than the code needs).

A style's functions and classes replace the release's stubs of the same names; every other
stub gets rnnlib's solution, so a wrong style differs from a full-marks notebook only in its
bugs. Its imports are put at the top of every cell it fills, its other top-level functions
(helpers) in the first solution cell.
"""

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from _exercises_util import ROOT, SOLUTIONS, nbgrader_meta, read, venv_env

from course import build, manifest
from course import source as course_source

CORPUS = ROOT / "tests" / "corpus"
ERROR = "error"


@dataclass
class Style:
    assignment: str
    name: str
    doc: str
    imports: list
    units: dict  # name -> source of a top-level function or class
    loses: dict = field(default_factory=dict)
    omit: tuple = ()
    visible: dict = field(default_factory=dict)

    @property
    def correct(self):
        return not self.loses

    @property
    def student(self):
        return self.name


def load_style(path):
    text = path.read_text()
    tree = ast.parse(text)
    units, imports, consts = {}, [], {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(text, node))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            units[node.name] = ast.get_source_segment(text, node)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            consts[node.targets[0].id] = ast.literal_eval(node.value)
    return Style(path.parent.name, path.stem, ast.get_docstring(tree) or "", imports, units,
                 consts.get("LOSES", {}), tuple(consts.get("OMIT", ())),
                 consts.get("VISIBLE", {}))


def styles(assignments=None):
    """Every style of the corpus, by assignment and name (only the assignments named in
    $RNN_CORPUS, comma-separated, when it is set: a developer's shortcut)."""
    if assignments is None and os.environ.get("RNN_CORPUS"):
        assignments = os.environ["RNN_CORPUS"].split(",")
    found = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        if assignments is None or folder.name in assignments:
            found += [load_style(p) for p in sorted(folder.glob("*.py"))]
    return found


def _units(text):
    """{name: source} of the top-level functions and classes in a cell's text."""
    tree = ast.parse(text)
    return {n.name: ast.get_source_segment(text, n) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def fill(release_nb, solution_nb, style):
    """The release with every stub replaced by the style's code, else by rnnlib's."""
    reference = {}
    for cell in solution_nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            reference.update(_units(cell.source))
    stubs = {name for cell in release_nb.cells if cell.cell_type == "code"
             and nbgrader_meta(cell).get("solution") for name in _units(cell.source)}
    unknown = set(style.units) & set(reference) - stubs
    assert not unknown, f"{style.name}: {unknown}"
    helpers = [src for name, src in style.units.items() if name not in stubs]
    first = True
    for cell in release_nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        parts = []
        for name in _units(cell.source):
            if name in style.omit:
                continue
            parts.append(style.units.get(name, reference[name]))
        if first:
            parts = helpers + parts
            first = False
        cell.source = "\n\n\n".join(style.imports + parts) + "\n"
    return release_nb


def submissions(release_dir, out):
    """Write every style's notebook as nbgrader's layout OUT/<style>/<assignment>/<nb>."""
    written = []
    for style in styles():
        for path in sorted((SOLUTIONS / style.assignment).glob("*.ipynb")):
            nb = fill(read(release_dir / style.assignment / path.name), read(path), style)
            target = out / style.student / style.assignment / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            written.append(target)
    return written


def nbgrader_autograde(course, students):
    """Stock `nbgrader autograde` of course/submitted: {(student, assignment): {grade_id:
    score}} and the autograded notebooks' folder."""
    command = [sys.executable, "-m", "nbgrader", "autograde", "[0-9]*", "--create", "--force",
               "--log-level=WARN", f"--CourseDirectory.root={course}",
               f"--CourseDirectory.source_directory={SOLUTIONS}",
               f"--CourseDirectory.release_directory={course / 'release'}",
               f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"]
    run = subprocess.run(command, cwd=course, env=venv_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, assignment, notebook in students:
            sub = gb.find_submission_notebook(notebook, assignment, student)
            scores[(student, assignment)] = {g.name: g.auto_score for g in sub.grades}
    return scores


def failed_cells(nb):
    """{cell id or grade_id: ename} of every code cell of an executed notebook that raised."""
    failed = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == ERROR:
                failed[nbgrader_meta(cell).get("grade_id") or cell.get("id")] = out["ename"]
    return failed


def _referenced(obj):
    """Global names a function (or a class's methods) refers to."""
    fns = [obj] if not isinstance(obj, type) else [v for v in vars(obj).values()
                                                   if callable(v) and hasattr(v, "__code__")]
    names = set()
    for fn in fns:
        codes = [fn.__code__]
        while codes:
            code = codes.pop()
            names.update(code.co_names)
            codes += [c for c in code.co_consts if hasattr(c, "co_names")]
    return names


def visible_map(assignment_name, solution_nb):
    """{question: [visible cell ids]}: each visible test checks one question (its name says
    which); a ``test`` question is its own visible test; the check after a paste cell checks
    every later question whose function uses a pasted function."""
    assignment = manifest.load(manifest.COURSE / assignment_name)
    found = {q.grade_id: [] for q in assignment.questions if q.kind != "answer"}
    pasted, after = set(), False
    for cell in solution_nb.cells:
        gid = nbgrader_meta(cell).get("grade_id", "")
        if gid.startswith("paste"):
            pasted = set(_units(cell.source))
        if gid == "check_pasted":
            after = True
            continue
        question = build.visible_question(gid, assignment) if gid else None
        if question:
            found[question].append(gid)
        elif gid in found and assignment.question(gid).kind == "test":
            found[gid].append(gid)
        if after and gid in found and assignment.question(gid).kind == "cases":
            fn = course_source.find_function(assignment.question(gid).function)
            if _referenced(fn) & pasted:
                found[gid].append("check_pasted")
    return found


def ours(out):
    """{(student, assignment): {question: row}} of our grader's grades.csv."""
    import csv

    with open(out / "grades.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    table = {}
    for r in rows:
        table.setdefault((r["student"], r["assignment"]), {})[r["question"]] = r
    return table


def grade_ours(submitted, out, source=SOLUTIONS):
    command = [sys.executable, "-m", "autograder", "grade", str(submitted), "--out", str(out),
               "--source", str(source), "--workers", "2", "--quiet"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    return ours(out)


def write_json(path, value):
    Path(path).write_text(json.dumps(value, indent=1, default=str))


def short(text, width=70):
    text = re.sub(r"\s+", " ", text or "")
    return text if len(text) <= width else text[:width - 1] + "…"
