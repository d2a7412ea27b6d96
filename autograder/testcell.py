"""A test cell made ready, in the grader process, for the worker's own executor.

The worker runs test cells without IPython's run_cell (whose parts student code can
replace), so the IPython-specific work happens here, out of the student's reach: magics are
turned into Python with IPython's own transformer, and the cell's last expression (nbgrader's
partial credit is its value) is split off to be evaluated on its own. Line numbers are kept,
so an error's line is the line of the cell.
"""

import ast
import builtins

from IPython.core.inputtransformer2 import TransformerManager

BUILTIN_NAMES = frozenset(dir(builtins))


def defined_names(sources):
    """Every name the instructors' cells bind at top level (def, class, assignment, import,
    for, with): a test may use these even where they shadow a builtin."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return names


def prepare(source, defined=frozenset()):
    """{"exec", "eval", "builtins"} for a test cell: the statements to execute, the last
    expression to evaluate (or None), and the builtin names the cell uses that the
    instructors' notebook does not define (the worker gives the test Python's own)."""
    python = TransformerManager().transform_cell(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return {"exec": python, "eval": None, "builtins": []}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}
    names = sorted((used & BUILTIN_NAMES) - set(defined))
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        return {"exec": python, "eval": None, "builtins": names}
    lines = python.splitlines(keepends=True)
    start = sum(len(line) for line in lines[:last.lineno - 1]) + last.col_offset
    expression = ast.get_source_segment(python, last.value, padded=False)
    # The expression keeps its line number (blank lines before it), so a failure in it is
    # reported on the cell's own line.
    return {"exec": python[:start], "eval": "\n" * (last.lineno - 1) + "(" + expression + ")",
            "builtins": names}
