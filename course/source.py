"""rnnlib's source as notebook cells: a graded function's signature, docstring and body between
nbgrader's solution markers, and the imports its cell needs.

Functions are named either by their name alone, when a question of the course grades a
function of that name (its manifest's ``grades`` says where it lives), or by a dotted path
(``rnnlib.clip._check_grads``) for a helper that is given to students and not graded. A graded
name may also be a class (``CaptioningRNN``, CS231n's model): its special methods
(``__init__``) are given in full, and the body of every other method is a solution.
"""

import ast
import importlib
import inspect
import sys
import textwrap
import types

from course import manifest

__all__ = ["find_function", "split_function", "solution_source", "given_source",
           "needed_imports", "merge_imports"]

#: Modules of the standard library a solution may use besides numpy and rnntools.
STDLIB = {"math"}


def find_function(name, root=manifest.COURSE):
    """The function ``name`` names: a graded function's name, or a dotted path."""
    dotted = name if "." in name else manifest.graded_functions(root).get(name)
    if dotted is None:
        raise LookupError(f"no question of the course grades a function named {name!r}; "
                          "name a helper by its dotted path (rnnlib.clip._check_grads)")
    module_name, _, attr = dotted.rpartition(".")
    fn = getattr(importlib.import_module(module_name), attr, None)
    if not isinstance(fn, types.FunctionType) and not (isinstance(fn, type) and "." not in name):
        raise LookupError(f"{module_name} has no function {attr}")
    return fn


def _module_globals(obj):
    return obj.__globals__ if hasattr(obj, "__globals__") else vars(sys.modules[obj.__module__])


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
    """The function's signature and docstring, then its body between the solution markers.
    For a class: its source, with the body of every method but the special ones marked."""
    if isinstance(fn, type):
        return _class_solution(fn)
    header, body = split_function(fn)
    indent = " " * 4
    while body and not body[0].strip():
        body = body[1:]
    return "\n".join(header + [indent + "### BEGIN SOLUTION", *body, indent + "### END SOLUTION"])


def _class_solution(cls):
    source = textwrap.dedent(inspect.getsource(cls)).rstrip("\n")
    lines = source.split("\n")
    methods = [node for node in ast.parse(source).body[0].body
               if isinstance(node, ast.FunctionDef) and not node.name.startswith("__")]
    # From the last method up, so that the line numbers of the earlier ones stay valid.
    for node in reversed(methods):
        doc = node.body[0]
        if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str) and len(node.body) > 1):
            raise ValueError(f"{cls.__name__}.{node.name} needs a docstring and a body")
        indent = " " * (node.body[1].col_offset)
        start, end = doc.end_lineno, node.end_lineno
        lines[start:end] = ([indent + "### BEGIN SOLUTION"] + lines[start:end]
                            + [indent + "### END SOLUTION"])
    return "\n".join(lines)


def given_source(fn):
    """The full source of a helper that students are given."""
    return textwrap.dedent(inspect.getsource(fn)).rstrip("\n")


def needed_imports(fns):
    """Import lines for the global names the functions use (NumPy and rnntools only)."""
    graded = {fn.__name__ for fn in fns}
    imports = set()
    for fn in fns:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        names = {node.id for node in ast.walk(tree)
                 if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        scope = _module_globals(fn)
        for name in sorted(names):
            if name in graded or name not in scope:
                continue
            imports.add(_import_line(fn, name, scope[name]))
    return sorted(imports)


def _import_line(fn, name, value):
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if not (module in STDLIB | {"numpy"} or module.startswith("rnntools")):
            raise ValueError(f"{fn.__name__} uses module {module} (not numpy/rnntools)")
        return f"import {module}" if name == module else f"import {module} as {name}"
    module = getattr(value, "__module__", "") or ""
    if not module.startswith("rnntools"):
        raise ValueError(
            f"{fn.__name__} uses {name} from {module or 'its module'}: a solution "
            "cell may only use numpy, rnntools and the notebook's graded functions")
    return f"from {module} import {name}"


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
