"""The helpers of the visible tests: checks whose failures say what is wrong and where to look.

A visible test should agree with the hidden tests on every correct implementation, however it
is written. So these helpers

- check an output's type, shape and dtype before its values, with a plain message
  (``db has shape (6,), expected (4,), the shape of b``) instead of a broadcasting error;
- compute numerical gradients on copies of the inputs, *before* the backward pass runs
  (a backward pass that updates its upstream gradient in place, ``dnext_c += ...``, is
  correct and must not change the check);
- never look inside a cache: only the outputs count.

``Pasted`` checks the cell into which an assignment asks for functions from an earlier one.
"""

import numpy as np

from rnntools.gradcheck import eval_numerical_gradient_array, rel_error

__all__ = ["check_array", "check_gradients", "numerical_gradients", "copies", "Pasted"]


def copies(inputs):
    """A dict of copies of the arrays in ``inputs`` (other values as they are)."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in inputs.items()}


def _shape_problem(name, got, expected, of=""):
    """The message for an output that is no array, or of another shape; '' if neither."""
    if not isinstance(got, np.ndarray):
        return (f"{name} is a {type(got).__name__}, expected a NumPy array of shape "
                f"{expected.shape}")
    if got.shape != expected.shape:
        where = f", the shape of {of}" if of else ""
        return f"{name} has shape {got.shape}, expected {expected.shape}{where}"
    if got.dtype != expected.dtype and expected.dtype.kind == "f":
        return (f"{name} has dtype {got.dtype}, expected {expected.dtype} "
                "(keep the dtype of the inputs)")
    return ""


def check_array(name, got, expected, tol, hint=""):
    """Check one output against its expected value: its type, shape and dtype first, then the
    relative error (CS231n's ``rel_error``), which is printed.

    Inputs:
    - name: the output's name, for the messages (e.g. ``"next_h"``).
    - got: your output.
    - expected: the expected array.
    - tol: the largest relative error accepted.
    - hint: what to look at when the values differ.

    Raises AssertionError with a plain message.
    """
    expected = np.asarray(expected)
    problem = _shape_problem(name, got, expected)
    if problem:
        raise AssertionError(problem)
    error = rel_error(expected, got)
    print(f"{name} error: {error:.2e}")
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{name} contains NaN or infinity. {hint}".strip())
    if not error < tol:
        raise AssertionError(f"{name} is wrong: relative error {error:.1e} (must be below "
                             f"{tol:.0e}). {hint}".strip())
    return error


def numerical_gradients(f, inputs, upstream, names=None):
    """Numerical gradients of ``sum(f(**inputs) * upstream)`` by centred differences.

    Run this before your backward pass: it works on copies, so nothing your code does to the
    arrays later can change it.

    Inputs:
    - f: a function of the keyword arguments ``inputs`` returning one array.
    - inputs: dict of the input arrays (float64).
    - upstream: the upstream gradient, an array of f's output's shape.
    - names: the inputs to differentiate (default: every array in ``inputs``).

    Returns {"d" + name: gradient of the input's shape}.
    """
    names = [k for k, v in inputs.items() if isinstance(v, np.ndarray)] if names is None else names
    base, upstream = copies(inputs), np.array(upstream, copy=True)
    grads = {}
    for name in names:
        def g(value, name=name):
            return f(**{**copies(base), name: value})
        grads["d" + name] = eval_numerical_gradient_array(g, base[name].copy(), upstream)
    return grads


def check_gradients(numerical, analytic, tol, hints=None):
    """Check every analytic gradient against its numerical one.

    Inputs:
    - numerical: {"dx": array, ...}, from numerical_gradients.
    - analytic: your gradients, keyed the same way.
    - tol: the largest relative error accepted.
    - hints: optional {"dx": what to look at when dx is wrong}.

    Prints each gradient's relative error; raises AssertionError naming the first gradient
    that is missing, of the wrong shape or dtype, or wrong (with its relative error).
    """
    hints = hints or {}
    missing = [k for k in numerical if k not in analytic]
    if missing:
        raise AssertionError(f"no value for {', '.join(missing)}")
    errors, wrong = {}, []
    for key, expected in numerical.items():
        problem = _shape_problem(key, analytic[key], expected, of=key[1:])
        if problem:
            raise AssertionError(problem)
        errors[key] = rel_error(expected, analytic[key])
        print(f"{key} error: {errors[key]:.2e}")
        if not errors[key] < tol:
            wrong.append(key)
    if wrong:
        lines = [f"{k} is wrong: relative error {errors[k]:.1e} (must be below {tol:.0e}). "
                 + hints.get(k, "") for k in wrong]
        right = [k for k in numerical if k not in wrong]
        if right:
            lines.append(f"({', '.join(right)} right: look at what only "
                         f"{'this gradient' if len(wrong) == 1 else 'these gradients'} use.)")
        raise AssertionError("\n".join(line.strip() for line in lines))
    return errors


def _stub(fn):
    """Whether fn is still the released stub (its body only raises NotImplementedError)."""
    code = getattr(fn, "__code__", None)
    return code is not None and set(code.co_names) <= {"NotImplementedError"}


def _raised_in(error):
    """The name of the function in which an exception was raised (the innermost frame)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name if tb is not None else ""


class Pasted:
    """Checks of the functions pasted from earlier assignments into a notebook.

    Inputs:
    - namespace: the notebook's namespace (``globals()``).
    - origins: {function name: the assignment it comes from, e.g. "assignment 2"}, every
      function the paste cell asks for.
    - required: the names that the notebook's later cells call themselves (the others are
      needed only when your own functions call them, as CS231n's rnn_forward calls
      rnn_step_forward).
    """

    def __init__(self, namespace, origins, required=()):
        self.namespace, self.origins, self.required = namespace, dict(origins), set(required)
        self.problems = []

    def _missing(self, name):
        fn = self.namespace.get(name)
        return fn is None or _stub(fn)

    def ask(self, name, needed_by=""):
        by = f": {needed_by} calls it" if needed_by else ""
        return (f"paste {name} from {self.origins[name]} into the cell of functions from "
                f"earlier assignments{by}")

    def _explain(self, error, caller):
        """The 'paste ...' message for an error raised because a pasted function is missing,
        or None when the error is something else."""
        if isinstance(error, NameError) and getattr(error, "name", None) in self.origins:
            return self.ask(error.name, caller)
        if isinstance(error, NotImplementedError) and _raised_in(error) in self.origins:
            name = _raised_in(error)
            return self.ask(name, "" if name == caller else caller)
        return None

    def call(self, name, run):
        """Call one pasted function once (``run()``, on a small input) to see that it and the
        functions it calls are there; records what is missing."""
        if self._missing(name):
            if name in self.required:
                self.problems.append(self.ask(name, "a later cell"))
            else:
                print(f"{name}: not pasted (needed only if your other functions call it)")
            return
        try:
            run()
        except (NameError, NotImplementedError) as error:
            message = self._explain(error, name)
            if message is None:
                raise
            self.problems.append(message)
        else:
            print(f"{name}: pasted")

    def report(self):
        """Raise AssertionError listing every function still to paste."""
        if self.problems:
            raise AssertionError("\n".join(dict.fromkeys(self.problems)))

    def needed_by(self, caller):
        """A context manager that turns a NameError or NotImplementedError of a pasted
        function, raised inside the block, into the message saying what to paste."""
        return _Needed(self, caller)


class _Needed:
    def __init__(self, pasted, caller):
        self.pasted, self.caller = pasted, caller

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or not isinstance(error, (NameError, NotImplementedError)):
            return False
        message = self.pasted._explain(error, self.caller)
        if message is None:
            return False
        raise AssertionError(message) from None
