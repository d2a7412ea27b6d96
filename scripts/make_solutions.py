"""Generate the instructors' notebooks in ``solutions/`` from templates and rnnlib's source.

Run as ``python -m scripts.make_solutions`` (``make solutions``); ``--check`` only reports
whether the committed notebooks differ from a fresh generation.

Every graded function is written once, in rnnlib. A template
(``scripts/exercise_templates/<NN_topic>/<notebook>.cells``) says which cells a notebook has; the
solution cell of a function is its signature and docstring followed by its body between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, taken with ``inspect.getsource``. The
expected fingerprints of the hidden tests are computed here with ``rnnlib.references``.

Template format: a line ``%% <kind> [words] [key=value ...]`` starts a cell; the lines up to the
next such line are its text. Kinds:

- ``markdown``: a plain markdown cell.
- ``code``: a plain code cell (students may edit it; not graded).
- ``locked id=NAME``: a read-only code cell (imports, visible tests).
- ``locked id=NAME include=FILE``: the same, with the text of ``FILE`` (a file beside the
  templates) appended, for helpers several notebooks share.
- ``imports id=NAME``: a read-only code cell holding the cell's text followed by the imports
  that the notebook's graded functions need (numpy, rnntools helpers), found from their code.
- ``solution FN [FN ...] [id=NAME]``: the functions' solution cell (not graded by itself).
- ``hidden FN points=P``: a graded, read-only test cell. Its text holds ``%case k=v ...`` lines
  (the arguments of ``rnntools.grading.case``; ``name=`` defaults to FN), the code that computes
  the outputs from ``_c`` (the case), and ``%out key ...``: the API names of the outputs,
  held in variables ``_key``. Each case becomes ``case(...)``, the code, ``submit(...)`` and
  ``check(...)`` inside ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.
- ``visible FN``: a read-only, ungraded test cell in the same format as ``hidden`` but written
  with ``c`` for the case and plain output names; it only calls ``check`` (students see it).
- ``given FN [FN ...] id=NAME``: a read-only cell with the full source of helper functions
  that are not graded (e.g. a private input check of rnnlib that a graded function calls).
- ``answer id=NAME points=P``: a manually graded markdown answer (its text is the model answer).
- ``test id=NAME points=P``: a graded, read-only code cell written out in full (no cases).
"""

import argparse
import ast
import importlib
import inspect
import sys
import textwrap
import types
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "scripts" / "exercise_templates"
SOLUTIONS = ROOT / "solutions"

#: Where the generator looks for a graded function named in a template.
MODULES = ("rnnlib.layers", "rnnlib.ngram", "rnnlib.sampling", "rnnlib.bptt", "rnnlib.clip",
           "rnnlib.caption_rnn")

HIDDEN_NOTE = "# Hidden tests (graded): {name} on other sizes and seeds."


def find_function(name):
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        fn = getattr(module, name, None)
        if isinstance(fn, types.FunctionType):
            return fn
    raise LookupError(f"no graded function named {name!r} in {', '.join(MODULES)}")


def split_function(fn):
    """Return (header, body) of a function's source: header ends with its docstring."""
    source = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(source).body[0]
    if not (tree.body and isinstance(tree.body[0], ast.Expr)
            and isinstance(tree.body[0].value, ast.Constant)
            and isinstance(tree.body[0].value.value, str)):
        raise ValueError(f"{fn.__name__} has no docstring")
    if len(tree.body) < 2:
        raise ValueError(f"{fn.__name__} has no body after its docstring")
    lines = source.rstrip("\n").split("\n")
    split = tree.body[0].end_lineno
    return lines[:split], lines[split:]


def solution_source(fn):
    header, body = split_function(fn)
    indent = " " * 4
    while body and not body[0].strip():
        body = body[1:]
    return "\n".join(header + [indent + "### BEGIN SOLUTION", *body, indent + "### END SOLUTION"])


def find_helper(name):
    """A function that is given to students in full (not graded), e.g. ``_check_grads``."""
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        fn = getattr(module, name, None)
        if isinstance(fn, types.FunctionType):
            return fn
    raise LookupError(f"no helper function named {name!r} in {', '.join(MODULES)}")


#: Modules of the standard library a solution may use besides numpy and rnntools.
STDLIB = {"math"}


def needed_imports(fns):
    """Import lines for the global names the functions use (NumPy and rnntools only)."""
    graded = {fn.__name__ for fn in fns}
    imports = set()
    for fn in fns:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        names = {node.id for node in ast.walk(tree)
                 if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        for name in sorted(names):
            if name in graded or name not in fn.__globals__:
                continue
            value = fn.__globals__[name]
            if isinstance(value, types.ModuleType):
                module = value.__name__
                if not (module in STDLIB | {"numpy"} or module.startswith("rnntools")):
                    raise ValueError(f"{fn.__name__} uses module {module} (not numpy/rnntools)")
                imports.add(f"import {module}" if name == module else f"import {module} as {name}")
            else:
                module = getattr(value, "__module__", "") or ""
                if not module.startswith("rnntools"):
                    raise ValueError(
                        f"{fn.__name__} uses {name} from {module or 'its module'}: a solution "
                        "cell may only use numpy, rnntools and the notebook's graded functions")
                imports.add(f"from {module} import {name}")
    return sorted(imports)


def merge_imports(lines):
    """One sorted import block: plain imports first, then one ``from`` line per module."""
    plain, names = set(), {}
    for line in filter(None, (line.strip() for line in lines)):
        if line.startswith("from "):
            module, imported = line[5:].split(" import ")
            names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
        elif line.startswith("import "):
            plain.add(line)
        else:
            raise ValueError(f"not an import line: {line!r}")
    froms = [f"from {m} import {', '.join(sorted(names[m]))}" for m in sorted(names)]
    return "\n".join(sorted(plain) + ([""] if plain and froms else []) + froms)


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


def _literal(value):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def hidden_source(fn_name, text, visible=False):
    from rnnlib.references import REFERENCES
    from rnntools.grading import case, fingerprint

    cases, code, outs = [], [], None
    for line in text.split("\n"):
        if line.startswith("%case"):
            args = dict(w.split("=", 1) for w in line.split()[1:])
            name = args.pop("name", fn_name)
            seed = int(args.pop("seed"))
            cases.append((name, seed, {k: _literal(v) for k, v in args.items()}))
        elif line.startswith("%out"):
            outs = line.split()[1:]
        else:
            code.append(line)
    if not cases or not outs:
        raise ValueError(f"hidden test of {fn_name} needs %case and %out lines")
    var, prefix = ("c", "") if visible else ("_c", "_")
    # A hidden cell imports the hooks again, so that a student cell that rebinds `check` (or
    # `case`, `submit`) in the notebook's namespace does not change what the cell runs.
    lines = [] if visible else [HIDDEN_NOTE.format(name=fn_name), "### BEGIN HIDDEN TESTS",
                                "from rnntools.grading import case, check, submit"]
    for name, seed, dims in cases:
        inputs = case(name, seed, **dims)
        expected = REFERENCES[name](inputs)
        if sorted(expected) != sorted(outs):
            raise ValueError(f"{name}: the reference returns {sorted(expected)}, not {outs}")
        args = ", ".join([repr(name), f"seed={seed}"] + [f"{k}={v!r}" for k, v in dims.items()])
        prints = {k: [float(repr_round(v)) for v in fingerprint(expected[k])] for k in outs}
        keywords = ", ".join(f"{k}={prefix}{k}" for k in outs)
        lines.append(f"{var} = case({args})")
        lines.extend(code)
        if not visible:
            lines.append(f"submit({var}, {keywords})")
        lines.append(f"check({var}, {prints!r}, {keywords})")
    if visible:
        lines.append(f'print("{fn_name}: the outputs match the reference")')
    else:
        lines.append("### END HIDDEN TESTS")
    return "\n".join(lines)


def repr_round(value):
    # 12 significant digits are far inside the 1e-6 tolerance and keep the cells readable.
    return f"{value:.12g}"


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def build_notebook(template):
    """Build one solution notebook (a NotebookNode) from a template path."""
    cells = []
    specs = parse_template(template.read_text())
    graded = [find_function(n) for kind, words, _, _ in specs if kind == "solution"
              for n in words]
    graded += [find_helper(n) for kind, words, _, _ in specs if kind == "given" for n in words]
    ids = set()

    def new_id(grade_id):
        if grade_id in ids:
            raise ValueError(f"{template}: duplicate grade_id {grade_id}")
        ids.add(grade_id)
        return grade_id

    for index, (kind, words, options, text) in enumerate(specs):
        cell_id = f"cell-{index:02d}"
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(text)
        elif kind in ("locked", "imports"):
            if "include" in options:
                text = "\n".join([text, (TEMPLATES / options["include"]).read_text()]).strip("\n")
            if kind == "imports":
                text = merge_imports(text.split("\n") + needed_imports(graded))
            cell = nbformat.v4.new_code_cell(text, metadata=_meta(new_id(options["id"]),
                                                                  locked=True))
        elif kind == "solution":
            grade_id = new_id(options.get("id", words[0]))
            source = "\n\n\n".join(solution_source(find_function(n)) for n in words)
            cell = nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, solution=True))
        elif kind == "hidden":
            fn_name = words[0]
            grade_id = new_id(options.get("id", f"test_{fn_name}"))
            cell = nbformat.v4.new_code_cell(
                hidden_source(fn_name, text),
                metadata=_meta(grade_id, grade=True, locked=True,
                               points=_number(options["points"])))
        elif kind == "given":
            source = "\n\n\n".join(textwrap.dedent(inspect.getsource(find_helper(n)))
                                    .rstrip("\n") for n in words)
            cell = nbformat.v4.new_code_cell(source, metadata=_meta(new_id(options["id"]),
                                                                    locked=True))
        elif kind == "visible":
            cell = nbformat.v4.new_code_cell(
                hidden_source(words[0], text, visible=True),
                metadata=_meta(new_id(options.get("id", f"reference_{words[0]}")), locked=True))
        elif kind == "test":
            cell = nbformat.v4.new_code_cell(
                text, metadata=_meta(new_id(options["id"]), grade=True, locked=True,
                                     points=_number(options["points"])))
        elif kind == "answer":
            cell = nbformat.v4.new_markdown_cell(
                text, metadata=_meta(new_id(options["id"]), grade=True, solution=True,
                                     points=_number(options["points"])))
        else:
            raise ValueError(f"{template}: unknown cell kind {kind!r}")
        cell["id"] = cell_id
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def templates():
    return sorted(TEMPLATES.glob("*/*.cells"))


def target(template, out_dir):
    return out_dir / template.parent.name / (template.stem + ".ipynb")


def render(template):
    return nbformat.writes(build_notebook(template)) + "\n"


def generate(out_dir=SOLUTIONS):
    """Write every solution notebook under ``out_dir``; return the paths written."""
    written = []
    for template in templates():
        path = target(template, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template))
        written.append(path)
    return written


def stale(out_dir=SOLUTIONS):
    """Paths of solution notebooks that differ from a fresh generation (or are missing)."""
    return [target(t, out_dir) for t in templates()
            if not target(t, out_dir).exists() or target(t, out_dir).read_text() != render(t)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    np.set_printoptions(legacy=False)
    if args.check:
        paths = stale()
        for path in paths:
            print(f"stale: {path.relative_to(ROOT)}")
        return 1 if paths else 0
    for path in generate():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
