"""The outside comparison: a hidden test's submitted arrays against rnnlib's reference.

Runs in the grader process only. The student's kernel never sees rnnlib, so nothing it does
to NumPy or to its own functions can change what is compared here.
"""

import base64
import binascii
import json
from functools import lru_cache

import numpy as np

SUBMISSION_MIME = "application/vnd.rnn-course.submission+json"
TOLERANCE = 1e-6


def rel_error(x, y):
    """CS231n's relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _freeze(dims):
    return tuple(sorted(dims.items()))


@lru_cache(maxsize=4096)
def expected(name, seed, frozen_dims):
    """rnnlib's outputs for the case (name, seed, dims), as a dict of float64 arrays."""
    from rnntools import cases

    import rnnlib.references as refs

    if name not in cases.GENERATORS or name not in refs.REFERENCES:
        raise KeyError(f"no generator or reference for case {name!r}")
    inputs = cases.GENERATORS[name](np.random.default_rng(seed), **dict(frozen_dims))
    return {k: np.asarray(v) for k, v in refs.REFERENCES[name](inputs).items()}


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
            payload = out.get("data", {}).get(SUBMISSION_MIME)
            if isinstance(payload, dict):
                found.append(payload)
    return found


def check_cases(question, outputs):
    """(passed, message) for the cases of a test question against what its cell submitted.

    Every case named in the source cell must have been submitted with every reference output
    (restricted to the keys the source cell passes to submit, when it names any) within
    relative error 1e-6 and with the reference's shape.
    """
    payloads = submissions(outputs)
    for name, seed, dims in question.cases:
        ref = expected(name, seed, _freeze(dims))
        keys = [k for k in ref if not question.submit_keys or k in question.submit_keys]
        match, want = None, json.loads(json.dumps(dims))
        for p in payloads:
            if p.get("name") == name and p.get("seed") == seed and p.get("dims") == want:
                match = p
        if match is None:
            return False, f"{name}: no outputs submitted"
        try:
            got = decode(match)
        except (ValueError, KeyError, TypeError) as e:
            return False, f"{name}: malformed submission ({e})"
        for k in keys:
            if k not in got:
                return False, f"{name}: output {k} missing"
            if ref[k].ndim == 0 and got[k].shape == (1,):
                # rnntools.grading.submit encodes with np.ascontiguousarray, which turns a
                # scalar into shape (1,).
                got[k] = got[k].reshape(())
            if got[k].shape != ref[k].shape:
                # The expected shape would tell the hidden case's sizes: say no more.
                return False, f"{name}: {k} has the wrong shape"
            err = rel_error(got[k].astype(np.float64), ref[k].astype(np.float64))
            if not err < TOLERANCE:
                return False, f"{name}: {k} differs from the reference"
    return True, ""
