"""The run lines of a manifest: how a graded check calls the functions on a case's inputs.

A run line is ``EXPRESSION -> TARGET, TARGET, ...``: a Python expression, usually one call,
whose value is unpacked into the targets (``_`` drops a value). A name in the expression is,
in this order: a target of an earlier line, a comprehension's own variable, the case itself
(``case``), a function or class it calls (``rnn_step_forward(...)``, ``int(...)``), NumPy
(``np``, as the notebooks import it), or else an input of the case (``x`` stands for
``case["x"]``). For example::

    rnn_step_forward(x, prev_h, Wx, Wh, b) -> _, cache
    rnn_step_backward(dnext_h, cache) -> dx, dprev_h, dWx, dWh, db

The same lines make the code of a test cell (:func:`render`) and, run on rnnlib's functions,
the reference outputs (``course.references``): the reference is computed exactly as the cell
computes the student's outputs.
"""

import ast
import builtins
from dataclasses import dataclass

__all__ = ["Step", "parse", "render", "inputs", "called", "outputs"]

#: The name a run line uses for the case itself.
CASE = "case"
#: Module names a run line may use, as every notebook imports them.
MODULES = {"np": "numpy"}


@dataclass(frozen=True)
class Step:
    """One run line: ``expression -> targets``."""

    expression: str
    targets: tuple[str, ...]


def parse(line):
    """The :class:`Step` of a run line; raises ValueError when it is malformed."""
    expression, arrow, targets = str(line).rpartition("->")
    if not arrow or not expression.strip():
        raise ValueError(f"run line {line!r}: expected 'EXPRESSION -> TARGET, ...'")
    names = tuple(t.strip() for t in targets.split(","))
    for name in names:
        if not name.isidentifier() or (name.startswith("_") and name != "_"):
            raise ValueError(f"run line {line!r}: target {name!r} is not a plain name")
    try:
        ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"run line {line!r}: {error.msg}") from None
    return Step(expression.strip(), names)


def _names(expression):
    """(Name node, role) of every name the expression reads; role is "call" for a called
    function, "local" for a comprehension or lambda variable, "free" otherwise."""
    tree = ast.parse(expression, mode="eval")
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.Lambda) for a in n.args.args}
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            role = "call" if id(node) in funcs else "local" if node.id in local else "free"
            found.append((node, role))
    return found


def _roles(steps):
    """Yield (step, node, meaning) for every name read, meaning one of "bound", "case",
    "call", "local", "module" or "input"."""
    bound = set()
    for step in steps:
        for node, role in _names(step.expression):
            if role != "free":
                yield step, node, role
            elif node.id in bound:
                yield step, node, "bound"
            elif node.id == CASE:
                yield step, node, "case"
            elif node.id in MODULES:
                yield step, node, "module"
            else:
                yield step, node, "input"
        bound |= set(step.targets) - {"_"}


def render(steps, case_var, prefix):
    """The code lines of the steps in a test cell.

    Args:
        steps: the :class:`Step` list.
        case_var: the cell's variable holding the case (``_c`` in hidden cells, ``c`` in
            visible ones).
        prefix: put before every target and every later use of it (``_`` in hidden cells, so
            that they do not clobber the student's names).
    """
    by_step = {}
    for step, node, meaning in _roles(steps):
        if meaning == "bound":
            by_step.setdefault(id(step), []).append((node, prefix + node.id))
        elif meaning == "case":
            by_step.setdefault(id(step), []).append((node, case_var))
        elif meaning == "input":
            by_step.setdefault(id(step), []).append((node, f'{case_var}["{node.id}"]'))
    lines = []
    for step in steps:
        text = step.expression
        # Replace from the right, so that the offsets of the names to the left stay valid.
        for node, new in sorted(by_step.get(id(step), []), key=lambda r: -r[0].col_offset):
            text = text[:node.col_offset] + new + text[node.end_col_offset:]
        targets = ", ".join(t if t == "_" else prefix + t for t in step.targets)
        lines.append(f"{targets} = {text}")
    return lines


def inputs(steps):
    """The case's keys the steps read, in order of first use."""
    return list(dict.fromkeys(node.id for _, node, m in _roles(steps) if m == "input"))


def called(steps):
    """The names of the functions the steps call that are not Python built-ins."""
    return sorted({node.id for _, node, m in _roles(steps)
                   if m == "call" and not hasattr(builtins, node.id)})


def outputs(steps):
    """The default outputs of a check: the named targets of its last step."""
    return [t for t in steps[-1].targets if t != "_"]
