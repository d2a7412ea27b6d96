"""The grading protocol: the hooks the test cells of the exercise notebooks call.

The protocol is described in ``docs/CONVENTIONS.md``. In short, a hidden test cell builds its
inputs with :func:`case`, runs the student's functions on them, sends the outputs out of the
kernel with :func:`submit` (the project's grader compares them with rnnlib outside the kernel),
and finally calls :func:`check`, which compares the outputs with *fingerprints* written into the
cell so that stock ``nbgrader autograde`` can grade the same notebook.

A fingerprint is a few random projections of an array. The projection vectors come from Python's
own ``random`` module and the sums are done in plain Python floats, so replacing NumPy functions
inside the kernel does not change what :func:`check` decides.
"""

import base64
import json
import math
import random

import numpy as np

from rnntools.grading.cases import GENERATORS

__all__ = ["Case", "case", "submit", "check", "fingerprint", "rel_error", "MIME_TYPE"]

MIME_TYPE = "application/vnd.rnn-course.submission+json"

#: How many random projections a fingerprint holds.
N_PROJECTIONS = 3
#: The largest relative error (CS231n's ``rel_error``) that :func:`check` accepts.
TOLERANCE = 1e-6

# Bound now, before any student cell runs, so later reassignments of the module attributes
# do not reach the checks below.
_tolist = np.ndarray.tolist
_asarray = np.asarray
_float64 = np.float64


class Case(dict):
    """The inputs of one graded check: a dict of float64 (or int) NumPy arrays.

    Attributes:
        name: the check's name, a key of ``rnntools.grading.cases.GENERATORS`` (the grader
            looks the reference outputs up by the same name).
        seed: the seed of ``np.random.default_rng`` that produced the inputs.
        dims: the keyword arguments given to the generator (sizes such as N, T, D, H).
    """

    def __init__(self, name, seed, dims, inputs):
        super().__init__(inputs)
        self.name = name
        self.seed = seed
        self.dims = dict(dims)

    def __repr__(self):
        dims = ", ".join(f"{k}={v!r}" for k, v in self.dims.items())
        return f"Case({self.name!r}, seed={self.seed}{', ' if dims else ''}{dims})"


def case(name, seed, **dims):
    """Build the inputs of the graded check ``name``.

    Args:
        name: a key of ``rnntools.grading.cases.GENERATORS``.
        seed: int, seed of ``np.random.default_rng``.
        **dims: the sizes the generator takes (ints, floats or strings).

    Returns:
        A :class:`Case`. Every call with the same arguments gives equal arrays.
    """
    if name not in GENERATORS:
        raise KeyError(f"no case generator named {name!r}")
    rng = np.random.default_rng(seed)
    return Case(name, seed, dims, GENERATORS[name](rng, **dims))


def _encode(value):
    array = np.ascontiguousarray(value)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "b64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def submit(case, **outputs):
    """Send the outputs of one case out of the kernel as a display output.

    The output has MIME type ``application/vnd.rnn-course.submission+json`` and holds
    ``{"name", "seed", "dims", "outputs": {key: {"dtype", "shape", "b64"}}}``; its text form is
    ``submitted <name>``.

    Args:
        case: the :class:`Case` the outputs were computed from.
        **outputs: arrays (or scalars) named as the API names the returned values.
    """
    from IPython.display import display

    payload = {
        "name": case.name,
        "seed": case.seed,
        "dims": case.dims,
        "outputs": {key: _encode(value) for key, value in outputs.items()},
    }
    # A JSON round trip keeps only plain types, so the payload is valid whatever dims holds.
    payload = json.loads(json.dumps(payload, default=str))
    display({MIME_TYPE: payload, "text/plain": f"submitted {case.name}"}, raw=True)


def _floats(value):
    flat = _tolist(_asarray(value, dtype=_float64).reshape(-1))
    return [float(v) for v in flat]


def _projection(size, k):
    # One fixed Gaussian vector per (size, k): the same on every machine and in every kernel.
    rng = random.Random(f"rnn-course fingerprint {size} {k}")
    return [rng.gauss(0.0, 1.0) for _ in range(size)]


def fingerprint(value):
    """A compact summary of an array: ``N_PROJECTIONS`` random projections of its entries.

    Args:
        value: array-like of any shape.

    Returns:
        A list of ``N_PROJECTIONS`` Python floats. Arrays with a different number of entries get
        different projection vectors, so a wrong shape almost surely gives a different
        fingerprint; the full array cannot be recovered from it.
    """
    flat = _floats(value)
    return [
        math.fsum(a * b for a, b in zip(flat, _projection(len(flat), k), strict=True))
        for k in range(N_PROJECTIONS)
    ]


def rel_error(x, y):
    """CS231n's relative error ``max |x - y| / max(1e-8, |x| + |y|)``, in plain Python.

    Args:
        x, y: sequences of floats of the same length.
    """
    return max(
        (abs(a - b) / max(1e-8, abs(a) + abs(b)) for a, b in zip(x, y, strict=True)), default=0.0
    )


def _shape_of(value):
    return tuple(getattr(value, "shape", ())) if hasattr(value, "shape") else None


def check(case, fingerprints, *, shapes=None, dtypes=None, **outputs):
    """Compare outputs with the expected fingerprints written into the test cell.

    Args:
        case: the :class:`Case` the outputs were computed from.
        fingerprints: dict mapping each output name to its expected :func:`fingerprint`.
        shapes: optional dict of the expected shape of each output (the visible checks give
            it, so that a wrong shape is named as such).
        dtypes: optional dict of the expected floating dtype of outputs (e.g. "float64").
        **outputs: the student's outputs, with the same names.

    Raises:
        AssertionError: with a plain message naming the first output that is missing, of the
            wrong shape or dtype, not finite, or whose fingerprint differs by more than
            ``TOLERANCE`` (with its relative error).
    """
    missing = sorted(set(fingerprints) - set(outputs))
    if missing:
        raise AssertionError(f"{case.name}: no value given for {', '.join(missing)}")
    for key, want in (shapes or {}).items():
        got = _shape_of(outputs[key])
        if got is not None and got != tuple(want) and not (got == (1,) and tuple(want) == ()):
            raise AssertionError(f"{case.name}: {key} has shape {got}, expected {tuple(want)}")
    for key, want in (dtypes or {}).items():
        got = getattr(outputs[key], "dtype", None)
        if got is not None and got.kind == "f" and str(got) != want:
            raise AssertionError(f"{case.name}: {key} has dtype {got}, expected {want} "
                                 "(the inputs are float64: keep their dtype)")
    for key, expected in fingerprints.items():
        try:
            got = fingerprint(outputs[key])
        except (TypeError, ValueError) as error:
            raise AssertionError(f"{case.name}: {key} is not a numeric array ({error})") from None
        if not all(math.isfinite(v) for v in got):
            raise AssertionError(f"{case.name}: {key} contains NaN or infinity")
        error = rel_error(got, [float(v) for v in expected])
        if not error <= TOLERANCE:
            raise AssertionError(
                f"{case.name}: {key} differs from the reference (relative error {error:.2e})"
            )
