"""Build the instructors' notebooks ``solutions/<NN_topic>/*.ipynb`` from ``course/``.

Run as ``python -m course.build`` (``make solutions``); ``--check`` only reports whether the
committed notebooks differ from a fresh build, ``--assignment NN_topic`` builds only that one.

Each assignment's folder holds its templates (``*.cells``, one per notebook: which cells the
notebook has, in order) and ``manifest.yaml`` (its graded questions: ``course.manifest``).
A solution cell is a graded function's signature and docstring followed by its body between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, taken from rnnlib with ``inspect.getsource``;
a hidden test cell is made from its question's run lines and hidden cases, with the expected
fingerprints computed by ``course.references``. Every notebook's metadata says that it is
generated and from what (``NOTE_KEY``); ``course.release`` strips that from the release.

Template format (``course/README.md`` has examples): a line ``%% <kind> [words] [key=value ...]``
starts a cell; the lines up to the next such line are its text. Kinds:

- ``markdown``: a plain markdown cell.
- ``code``: a plain code cell (students may edit it; not graded).
- ``locked id=NAME [include=FILE]``: a read-only code cell (imports, visible tests), with the
  text of ``FILE`` (a path under ``course/``, e.g. ``shared/...``) appended when given.
- ``imports id=NAME``: a read-only code cell holding the cell's text followed by the imports
  that the notebook's graded functions need (numpy, rnntools helpers), found from their code.
- ``solution FN [FN ...] [id=NAME]``: the functions' solution cell (not graded by itself). FN is
  a function some question of the course grades (from an earlier assignment too).
- ``given FN [FN ...] id=NAME``: a read-only cell with the full source of helpers that are not
  graded, named by dotted path (``rnnlib.clip._check_grads``).
- ``pasted id=NAME``: right after a solution cell of functions from earlier assignments (the
  *paste cell*), a read-only check that calls each of them once on a small input and says
  "paste rnn_step_forward from assignment 2 ..." for anything missing (``rnntools.testing
  .Pasted``): the functions the notebook's later cells call must be there, the others only
  when a pasted function calls them (as CS231n's ``rnn_forward`` calls ``rnn_step_forward``).
- ``hidden GRADE_ID``: the graded, read-only hidden test cell of that question of the manifest.
- ``visible GRADE_ID [id=NAME]``: a read-only, ungraded cell that checks the question's visible
  cases against fingerprints (students see it); its id defaults to ``reference_<case>``.

A read-only cell whose id starts with ``visible_`` is a visible test of one question: its id is
``visible_<function>`` or ``visible_<function>_<words>`` (:func:`visible_question`), so that
every visible test names the one question it checks.
- ``test GRADE_ID``: a graded, read-only code cell written out in full (the cell's text).
- ``answer GRADE_ID``: a manually graded markdown answer (the cell's text is the model answer).
"""

import argparse
import ast
import inspect
import re
import sys
from pathlib import Path

import nbformat
import numpy as np

from course import manifest, references, source
from course import steps as run_lines
from rnntools.grading import case, fingerprint

COURSE = manifest.COURSE
ROOT = COURSE.parent
SOLUTIONS = ROOT / "solutions"

HIDDEN_NOTE = "# Hidden tests (graded): {name} on other sizes and seeds."
#: The key of the notebook metadata that marks a built notebook as generated.
NOTE_KEY = "course_source"
#: The kinds of template cell that place a question of the manifest.
PLACES = ("hidden", "test", "answer")
#: The code of a paste check (kind ``pasted``).
PASTED_HEAD = """\
# Each assignment is graded alone, so the functions it builds on must be pasted above. Each one
# is called once here on a small input, to find what is still missing.
pasted = Pasted(globals(), {{
{origins}
}}, required={required})"""


def visible_question(cell_id, assignment):
    """The question a visible test cell checks: ``reference_<case>`` (a ``%% visible`` cell)
    or ``visible_<function>[_<words>]``, the longest function name that fits; None for other
    cells."""
    questions = [q for q in assignment.questions if q.kind == "cases"]
    if cell_id.startswith("reference_"):
        found = [q for q in questions if q.case == cell_id[len("reference_"):]]
    elif cell_id.startswith("visible_"):
        rest = cell_id[len("visible_"):]
        found = sorted((q for q in questions if rest == q.case or rest.startswith(q.case + "_")),
                       key=lambda q: -len(q.case))
    else:
        return None
    if not found:
        raise ValueError(f"{assignment.name}: the visible test {cell_id} names no question")
    return found[0].grade_id


def _called_names(text):
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {n.func.id for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _ordinal(assignment_name):
    return f"assignment {int(assignment_name[:2])}"


def parse_template(text):
    """Split a template into (kind, words, options, text) tuples."""
    cells = []
    for line in text.split("\n"):
        if line.startswith("%% "):
            kind, *rest = line[3:].split()
            words = [w for w in rest if "=" not in w]
            options = dict(w.split("=", 1) for w in rest if "=" in w)
            cells.append([kind, words, options, []])
        elif cells:
            cells[-1][3].append(line)
        elif line.strip():
            raise ValueError(f"text before the first cell: {line!r}")
    return [(k, w, o, "\n".join(t).strip("\n")) for k, w, o, t in cells]


def repr_round(value):
    # 12 significant digits are far inside the 1e-6 tolerance and keep the cells readable.
    return f"{value:.12g}"


def test_source(question, visible=False):
    """The code of a question's hidden test cell (or of its visible check)."""
    var, prefix = ("c", "") if visible else ("_c", "_")
    code = run_lines.render(question.steps, var, prefix)
    # A hidden cell imports the hooks again, so that a student cell that rebinds `check` (or
    # `case`, `submit`) in the notebook's namespace does not change what the cell runs.
    lines = [] if visible else [HIDDEN_NOTE.format(name=question.case), "### BEGIN HIDDEN TESTS",
                                "from rnntools.grading import case, check, submit"]
    for dims in question.visible if visible else question.hidden:
        dims = dict(dims)
        seed = dims.pop("seed")
        try:
            inputs = case(question.case, seed, **dims)
        except KeyError:
            raise ValueError(f"{question.assignment}/{question.grade_id}: no case generator "
                             f"{question.case!r} in rnntools/grading/cases.py") from None
        expected = references.evaluate(question, inputs)
        args = ", ".join([repr(question.case), f"seed={seed}"]
                         + [f"{k}={v!r}" for k, v in dims.items()])
        prints = {k: [float(repr_round(v)) for v in fingerprint(expected[k])]
                  for k in question.outputs}
        keywords = ", ".join(f"{k}={prefix}{k}" for k in question.outputs)
        lines.append(f"{var} = case({args})")
        lines.extend(code)
        if not visible:
            lines.append(f"submit({var}, {keywords})")
            lines.append(f"check({var}, {prints!r}, {keywords})")
        else:
            shapes = {k: list(np.shape(expected[k])) for k in question.outputs}
            dtypes = {k: str(expected[k].dtype) for k in question.outputs
                      if np.asarray(expected[k]).dtype.kind == "f"}
            lines.append(f"check({var}, {prints!r},\n      shapes={shapes!r},\n      "
                         f"dtypes={dtypes!r},\n      {keywords})")
    if visible:
        lines.append(f'print("{question.case}: the outputs match the reference")')
    else:
        lines.append("### END HIDDEN TESTS")
    return "\n".join(lines)


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


class _Notebook:
    """The cells of one template, built one by one (see the module docstring)."""

    def __init__(self, template, assignment, root):
        self.template, self.assignment, self.root = template, assignment, root
        self.specs = parse_template(template.read_text())
        self.functions = [source.find_function(n, root) for kind, words, _, _ in self.specs
                          if kind in ("solution", "given") for n in words]
        self.ids, self.placed, self.includes = set(), [], []
        self.index, self.last_solution = 0, []

    def new_id(self, grade_id):
        if grade_id in self.ids:
            raise ValueError(f"{self.template}: duplicate grade_id {grade_id}")
        self.ids.add(grade_id)
        return grade_id

    def question(self, kind, words):
        if len(words) != 1:
            raise ValueError(f"{self.template}: '%% {kind}' names one grade_id, got {words}")
        q = self.assignment.question(words[0])
        want = "cases" if kind in ("hidden", "visible") else kind
        if q.kind != want:
            raise ValueError(f"{self.template}: {q.grade_id} is of kind {q.kind}, not {want}")
        if kind in PLACES:
            self.placed.append(q.grade_id)
        elif kind == "visible":
            self.placed.append(f"visible {q.grade_id}")
        return q

    def cell(self, kind, words, options, text):
        code, new = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
        if kind == "markdown":
            return new(text)
        if kind == "code":
            return code(text)
        if kind in ("locked", "imports"):
            if "include" in options:
                self.includes.append(self.root / options["include"])
                text = "\n".join([text, (self.root / options["include"]).read_text()])
                text = text.strip("\n")
            if kind == "imports":
                text = source.merge_imports(text.split("\n")
                                            + source.needed_imports(self.functions))
            if options["id"].startswith("visible_"):
                visible_question(options["id"], self.assignment)
            return code(text, metadata=_meta(self.new_id(options["id"]), locked=True))
        if kind == "pasted":
            return code(self.paste_check(), metadata=_meta(self.new_id(options["id"]),
                                                           locked=True))
        if kind == "solution":
            self.last_solution = words
            text = "\n\n\n".join(source.solution_source(source.find_function(n, self.root))
                                 for n in words)
            return code(text, metadata=_meta(self.new_id(options.get("id", words[0])),
                                             solution=True))
        if kind == "given":
            text = "\n\n\n".join(source.given_source(source.find_function(n, self.root))
                                 for n in words)
            return code(text, metadata=_meta(self.new_id(options["id"]), locked=True))
        return self.question_cell(kind, words, options, text)

    def paste_check(self):
        """The code of a ``pasted`` cell for the functions of the solution cell before it."""
        checks = {q.function: q for q in manifest.checks(self.root).values()}
        names = [n for n in self.last_solution if n in checks
                 and checks[n].assignment != self.assignment.name]
        if not names or self.specs[self.index - 1][0] != "solution":
            raise ValueError(f"{self.template}: '%% pasted' must follow a solution cell of "
                             "functions from earlier assignments")
        later = set().union(*(_called_names(t) for k, _, _, t in self.specs[self.index + 1:]
                              if k in ("locked", "test", "code")))
        origins = "\n".join(f'    "{n}": "{_ordinal(checks[n].assignment)}",' for n in names)
        required = "[" + ", ".join(f'"{n}"' for n in names if n in later) + "]"
        lines = [PASTED_HEAD.format(origins=origins, required=required)]
        for name in names:
            q = checks[name]
            dims = dict(q.visible[0] if q.visible else q.hidden[0])
            dims.pop("seed")
            args = ", ".join([f'"{q.case}"', "seed=1000"] + [f"{k}={v!r}" for k, v in dims.items()])
            body = run_lines.render(q.steps, "c", "")
            lines += [f"c = case({args})", "", "", "def run():",
                      *(" " * 4 + line for line in body), "", "",
                      f'pasted.call("{name}", run)']
        lines.append("pasted.report()")
        return "\n".join(lines)

    def question_cell(self, kind, words, options, text):
        if kind not in ("hidden", "visible", "test", "answer"):
            raise ValueError(f"{self.template}: unknown cell kind {kind!r}")
        q = self.question(kind, words)
        if kind == "visible":
            if not q.visible:
                raise ValueError(f"{self.template}: {q.grade_id} has no visible cases")
            cell_id = self.new_id(options.get("id", f"reference_{q.case}"))
            return nbformat.v4.new_code_cell(test_source(q, visible=True),
                                             metadata=_meta(cell_id, locked=True))
        meta = _meta(self.new_id(q.grade_id), grade=True, locked=kind != "answer",
                     solution=kind == "answer", points=q.points)
        if kind == "answer":
            return nbformat.v4.new_markdown_cell(text, metadata=meta)
        return nbformat.v4.new_code_cell(test_source(q) if kind == "hidden" else text,
                                         metadata=meta)

    def sources(self):
        """The files the notebook is made from, relative to the repository's root."""
        files = [self.template, self.assignment.folder / "manifest.yaml", *self.includes]
        files += [Path(inspect.getsourcefile(fn)) for fn in self.functions]
        return list(dict.fromkeys(relative(p, self.root.parent) for p in files))

    def build(self):
        cells = []
        for index, spec in enumerate(self.specs):
            self.index = index
            cell = self.cell(*spec)
            cell["id"] = f"cell-{index:02d}"
            cells.append(cell)
        _check_points_prose(self.assignment, cells)
        nb = nbformat.v4.new_notebook(cells=cells)
        files = self.sources()
        nb.metadata = {
            NOTE_KEY: {"generated_by": "make solutions (python -m course.build)",
                       "sources": files,
                       "note": f"Generated from {', '.join(files)}: do not edit. Change those "
                               "files and run `make solutions`."},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
        nbformat.validate(nb)
        return nb


def relative(path, root):
    path = Path(path).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _check_points_prose(assignment, cells):
    """A markdown cell that announces "`fn` (N)" must give the manifest's points for fn."""
    points = {q.function: q.points for q in assignment.questions if q.kind == "cases"}
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        for name, said in re.findall(r"`(\w+)` \((\d+(?:\.\d+)?)\)", cell.source):
            if name in points and float(said) != points[name]:
                raise ValueError(f"{assignment.name}: the text gives {name} {said} points, "
                                 f"its manifest {points[name]}")


def build_assignment(assignment, root=COURSE):
    """{template: notebook} for every template of the assignment, each question placed once
    (and its visible check once, when it has visible cases)."""
    notebooks, placed = {}, []
    for template in assignment.templates:
        builder = _Notebook(template, assignment, root)
        notebooks[template] = builder.build()
        placed += builder.placed
    want = [q.grade_id for q in assignment.questions]
    want += [f"visible {q.grade_id}" for q in assignment.questions if q.visible]
    if sorted(placed) != sorted(want):
        raise ValueError(f"{assignment.name}: every question of the manifest (and every visible "
                         f"check) must be placed once in a template; placed {sorted(placed)}, "
                         f"manifest {sorted(want)}")
    return notebooks


def templates(root=COURSE):
    """Every template of the course, in order."""
    return [t for a in manifest.assignments(root) for t in a.templates]


def target(template, out_dir=SOLUTIONS):
    return Path(out_dir) / template.parent.name / (template.stem + ".ipynb")


def render(notebook):
    return nbformat.writes(notebook) + "\n"


def built(names=None, root=COURSE):
    """{template: notebook text} of the chosen assignments (every one by default)."""
    chosen = [a for a in manifest.assignments(root) if names is None or a.name in names]
    if names is not None and {a.name for a in chosen} != set(names):
        raise LookupError(f"no such assignment under {root}: {sorted(names)}")
    return {t: render(nb) for a in chosen for t, nb in build_assignment(a, root).items()}


def generate(out_dir=SOLUTIONS, names=None, root=COURSE):
    """Write the chosen solution notebooks under ``out_dir``; return the paths written. A
    notebook that is the same build (``same_build``) is left as it is, so that a machine whose
    BLAS rounds otherwise does not rewrite the last digits of every fingerprint."""
    written = []
    for template, text in built(names, root).items():
        path = target(template, out_dir)
        if _fresh(path, text):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


#: A decimal number in a built notebook (the fingerprints of the hidden tests are such numbers).
_NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?")
#: Numbers that agree to this relative difference are the same build: the reference outputs
#: come from BLAS products, whose last bits depend on the kernel the machine's OpenBLAS picks,
#: and that can move the 12th digit of a fingerprint (the checks' tolerance is 1e-6).
SAME_NUMBER = 1e-9


def same_build(a, b):
    """True when two notebook texts differ at most in the last digits of their numbers."""
    # Equal text between the numbers implies as many numbers on both sides.
    if _NUMBER.split(a) != _NUMBER.split(b):
        return False
    numbers_a, numbers_b = _NUMBER.findall(a), _NUMBER.findall(b)
    return all(abs(float(x) - float(y)) <= SAME_NUMBER * max(abs(float(x)), abs(float(y)))
               for x, y in zip(numbers_a, numbers_b, strict=True))


def _fresh(path, text):
    return path.exists() and same_build(path.read_text(), text)


def stale(out_dir=SOLUTIONS, names=None, root=COURSE):
    """Paths of solution notebooks that differ from a fresh build (or are missing); numbers
    that differ only in their last digits (``same_build``) are no difference."""
    return [target(t, out_dir) for t, text in built(names, root).items()
            if not _fresh(target(t, out_dir), text)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    parser.add_argument("--assignment", action="append", help="only this one (repeatable)")
    args = parser.parse_args(argv)
    if args.check:
        paths = stale(names=args.assignment)
        for path in paths:
            print(f"stale: {relative(path, ROOT)}")
        return 1 if paths else 0
    for path in generate(names=args.assignment):
        print(f"wrote {relative(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
