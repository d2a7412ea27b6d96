"""The reference outputs of every graded check, for the grader: the manifest's run lines run on
rnnlib's functions, outside the student's kernel.

One generic adapter serves every check: the manifest says which function a check grades and
how its test cell calls it (``course.steps``), so the reference is computed by the very code
the hidden cell runs on the student's functions, with rnnlib's in their place. rnnlib itself
knows nothing about the course.

The grader's interface:

- ``names()``: the names of every check the course knows (``case(NAME, ...)`` in test cells);
- ``expected(name, seed, dims)``: ``{output name: np.ndarray}`` for one case.
"""

import builtins
import importlib
import types
from functools import cache

import numpy as np

from course import manifest
from course import steps as run_lines
from rnntools.grading import case

__all__ = ["names", "expected", "evaluate", "functions"]


@cache
def _checks(root):
    return manifest.checks(root)


def names(root=manifest.COURSE):
    """The names of every check of the course (keys of ``rnntools.grading.cases``)."""
    return frozenset(_checks(str(root)))


def expected(name, seed, dims, root=manifest.COURSE):
    """rnnlib's outputs for the case ``case(name, seed, **dims)``.

    Args:
        name: a check's name (see :func:`names`).
        seed: the case's seed.
        dims: the case's keyword arguments (sizes such as N, T, D, H), a dict.

    Returns:
        {output name: np.ndarray}, with the names the test cell submits.

    Raises:
        KeyError: when no question of the course checks ``name``.
    """
    checks = _checks(str(root))
    if name not in checks:
        raise KeyError(f"no question of the course checks the case {name!r}")
    return evaluate(checks[name], case(name, seed, **dict(dims)))


def functions(question):
    """{name: function} of rnnlib for every function the question's run lines call."""
    module = importlib.import_module(question.module)
    called = run_lines.called(question.steps)
    if question.function not in called:
        raise ValueError(f"{question.assignment}/{question.grade_id}: the run lines never call "
                         f"the graded function {question.function}")
    found = {}
    for name in called:
        fn = getattr(module, name, None)
        if not isinstance(fn, types.FunctionType | type):
            raise ValueError(f"{question.assignment}/{question.grade_id}: {question.module} has "
                             f"no function {name} (nor a class)")
        found[name] = fn
    return found


def evaluate(question, inputs):
    """The question's outputs on ``inputs`` (a case), computed with rnnlib's functions."""
    missing = [k for k in run_lines.inputs(question.steps) if k not in inputs]
    if missing:
        raise ValueError(f"{question.assignment}/{question.grade_id}: the run lines read "
                         f"{', '.join(missing)}, which case {question.case!r} does not make "
                         f"(it makes {', '.join(inputs)})")
    code = "\n".join(run_lines.render(question.steps, "_c", "_"))
    modules = {name: importlib.import_module(m) for name, m in run_lines.MODULES.items()}
    namespace = {"__builtins__": builtins, "_c": inputs, **modules, **functions(question)}
    exec(compile(code, f"<{question.assignment}/{question.grade_id}>", "exec"), namespace)
    return {k: np.asarray(namespace["_" + k]) for k in question.outputs}
