"""The grader plugin of this course: hidden tests compared outside the sandbox.

Named in ``nbgrader_config.py`` (``c.Autograder.plugin = "course.plugin:RnnCourse"``). A
hidden test cell of this course builds its inputs with ``case(name, seed, **dims)``, runs
the student's functions and sends the outputs out of the kernel with ``submit(...)``
(docs/CONVENTIONS.md). At plan time the plugin reads the literal ``case`` calls from the
instructors' source (never from the kernel); after a test passed, it recomputes every
expected output with rnnlib in the grader process and gives the points only if each case was
submitted with every output within the protocol's tolerance. Student code inside the sandbox
can reach none of this, so patching NumPy or the in-kernel `check` gains nothing.
"""

import ast
import base64
import binascii
import builtins
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from autograder.io import GraderError
from autograder.plugins import Plugin
from course import references
from rnntools.grading import MIME_TYPE, TOLERANCE


@dataclass(frozen=True)
class Cases:
    """What a hidden test cell submits: its (name, seed, dims) cases and the output keys it
    passes to submit (all of the reference's outputs when it names none)."""
    cases: tuple
    keys: frozenset


class RnnCourse(Plugin):
    name = "rnn-course"
    mounts = ("rnntools",)

    def inspect(self, source):
        cases, keys = find_cases(source)
        return Cases(tuple(cases), keys) if cases else None

    def check(self, questions):
        names = {c[0] for q in questions if q.data for c in q.data.cases}
        missing = sorted(n for n in names if not known(n))
        if missing:
            raise GraderError(f"no reference or generator for the cases {', '.join(missing)}")

    def compare(self, data, outputs):
        return check_cases(data, outputs)

    def explain(self, data, outputs):
        return explain(data, outputs)


def _literal(node):
    return ast.literal_eval(node)


def find_cases(source):
    """The literal ``case(name, seed=..., **dims)`` calls and ``submit(..., key=...)`` keys."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [], frozenset()
    cases, keys = [], set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        fname = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if fname == "case" and node.args:
            try:
                name = _literal(node.args[0])
                kwargs = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
            except ValueError as e:
                raise ValueError("case(...) with non-literal arguments: "
                                 f"{ast.unparse(node)}") from e
            seed = kwargs.pop("seed", None)
            if seed is None and len(node.args) > 1:
                seed = _literal(node.args[1])
            cases.append((name, seed, kwargs))
        elif fname == "submit":
            keys.update(k.arg for k in node.keywords if k.arg)
    return cases, frozenset(keys)


def known(name):
    """Whether the grader can compute the case `name`."""
    return name in references.names()


def rel_error(x, y):
    """CS231n's relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _freeze(dims):
    return tuple(sorted(dims.items()))


@lru_cache(maxsize=4096)
def expected(name, seed, frozen_dims):
    """rnnlib's outputs for the case (name, seed, dims), as a dict of float64 arrays: the run
    lines of the question that checks ``name`` (course/*/manifest.yaml), run on rnnlib."""
    return references.expected(name, seed, dict(frozen_dims))


def decode(payload):
    """The arrays of one submission display: {key: ndarray}; raises ValueError if malformed."""
    arrays = {}
    for key, item in dict(payload.get("outputs", {})).items():
        dtype = np.dtype(str(item["dtype"]))
        if dtype.kind not in "biuf":
            raise ValueError(f"output {key!r} has dtype {dtype}, not a number")
        try:
            raw = base64.b64decode(item["b64"], validate=True)
        except (binascii.Error, TypeError) as e:
            raise ValueError(f"output {key!r} is not base64") from e
        shape = tuple(int(s) for s in item["shape"])
        arrays[key] = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return arrays


def submissions(outputs):
    """Every submission payload a cell displayed, as dicts."""
    found = []
    for out in outputs:
        if out.get("output_type") in ("display_data", "execute_result"):
            payload = out.get("data", {}).get(MIME_TYPE)
            if isinstance(payload, dict):
                found.append(payload)
    return found


def _match(payloads, name, seed, dims):
    want = json.loads(json.dumps(dims))
    match = None
    for p in payloads:
        if p.get("name") == name and p.get("seed") == seed and p.get("dims") == want:
            match = p
    return match


def _shape_words(key, shape, ref_shape):
    """Why a shape is wrong, in words that do not tell the hidden case's sizes."""
    if len(shape) != len(ref_shape):
        return (f"{key} has the wrong shape: {len(shape)} axes where the reference has "
                f"{len(ref_shape)}")
    axes = [str(i) for i, (a, b) in enumerate(zip(shape, ref_shape, strict=True)) if a != b]
    return (f"{key} has the wrong shape: another length along axis "
            f"{', '.join(axes)} than the reference's")


def _dtype_words(value, ref):
    if value.dtype.kind == "f" and ref.dtype.kind == "f" and value.dtype != ref.dtype:
        return (f"; it has dtype {value.dtype} where the reference has {ref.dtype} (the "
                "hidden tests feed float64: keep the inputs' dtype)")
    return ""


def _compare_output(name, key, got, ref):
    """'' if one submitted output equals the reference, else why not: which output, its
    relative error, a shape or dtype mismatch; never an input, a seed or an expected value."""
    if key not in got:
        return f"{name}: output {key} missing"
    value = got[key]
    if ref.ndim == 0 and value.shape == (1,):
        # rnntools.grading.submit encodes with np.ascontiguousarray, which turns a scalar
        # into shape (1,).
        value = value.reshape(())
    if value.shape != ref.shape:
        # The expected shape would tell the hidden case's sizes: only which axes differ.
        return f"{name}: {_shape_words(key, value.shape, ref.shape)}"
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        return f"{name}: {key} contains NaN or infinity"
    err = rel_error(value.astype(np.float64), ref.astype(np.float64))
    if err < TOLERANCE:
        return ""
    return (f"{name}: {key} differs from the reference (relative error {err:.1e})"
            + _dtype_words(value, ref))


#: Exceptions whose name a message may give (a student's own class name could carry text).
SAFE_ERRORS = frozenset(n for n, v in vars(builtins).items()
                        if isinstance(v, type) and issubclass(v, BaseException))


def _raised(outputs):
    """The builtin exception a cell raised (its name only: a message could print inputs)."""
    names = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
    if not names:
        return ""
    return names[-1] if names[-1] in SAFE_ERRORS else "an exception"


def explain(data, outputs):
    """Why a hidden test cell that failed in the kernel failed: the first case whose outputs
    differ from the reference (as :func:`check_cases` says it), or the error that stopped the
    cell before a case's outputs were submitted."""
    passed, message = check_cases(data, outputs)
    if passed:
        return ""
    if message.endswith(": no outputs submitted"):
        raised = _raised(outputs)
        name = message.split(":")[0]
        if raised:
            return f"{name}: your code raised {raised} on a hidden case"
    return message


def check_cases(data, outputs):
    """(passed, message) for the cases of a hidden test against what its cell submitted.

    Every case named in the source cell must have been submitted with every reference output
    (restricted to the keys the source cell passes to submit, when it names any) within the
    protocol's relative error and with the reference's shape.
    """
    payloads = submissions(outputs)
    for name, seed, dims in data.cases:
        ref = expected(name, seed, _freeze(dims))
        match = _match(payloads, name, seed, dims)
        if match is None:
            return False, f"{name}: no outputs submitted"
        try:
            got = decode(match)
        except (ValueError, KeyError, TypeError) as e:
            return False, f"{name}: malformed submission ({e})"
        for key in ref:
            if data.keys and key not in data.keys:
                continue
            why = _compare_output(name, key, got, ref[key])
            if why:
                return False, why
    return True, ""
