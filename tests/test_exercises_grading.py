"""rnntools.grading and rnntools.grading.cases: the protocol of docs/CONVENTIONS.md, and
course.references (the grader's reference outputs) agreeing with the generators."""

import base64
import json

import numpy as np
import pytest

from course import references
from rnntools import grading
from rnntools.grading import Case, case, check, fingerprint, submit
from rnntools.grading.cases import GENERATORS


def reference(c):
    """The grader's reference outputs for the case c."""
    return references.expected(c.name, c.seed, c.dims)


def test_case_is_deterministic_and_float64():
    a = case("rnn_step_backward", seed=3, N=2, D=4, H=5)
    b = case("rnn_step_backward", seed=3, N=2, D=4, H=5)
    assert isinstance(a, Case) and (a.name, a.seed, a.dims) == ("rnn_step_backward", 3,
                                                                 {"N": 2, "D": 4, "H": 5})
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].dtype == np.float64
    assert a["x"].shape == (2, 4) and a["Wh"].shape == (5, 5) and a["dnext_h"].shape == (2, 5)
    c = case("rnn_step_backward", seed=4, N=2, D=4, H=5)
    assert not np.array_equal(a["x"], c["x"])


def test_unknown_case_name():
    with pytest.raises(KeyError, match="no case generator"):
        case("not_a_function", seed=0)


def test_every_reference_has_a_generator():
    assert references.names() <= set(GENERATORS)


def test_fingerprint_is_a_few_floats_and_sensitive():
    x = case("rnn_forward", seed=0, N=2, T=3, D=4, H=5)["x"]
    fp = fingerprint(x)
    assert len(fp) == grading.N_PROJECTIONS and all(isinstance(v, float) for v in fp)
    assert fingerprint(x.copy()) == fp
    assert fingerprint(x.astype(np.float32)) != fp  # rounding to float32 changes it
    nudged = x.copy()
    nudged[1, 2, 3] *= 1 + 1e-4
    assert grading.rel_error(fingerprint(nudged), fp) > grading.TOLERANCE
    # Same entries, another shape: differs too (the projection depends on the entry order).
    assert grading.rel_error(fingerprint(x.transpose(1, 0, 2)), fp) > grading.TOLERANCE


def test_check_accepts_the_reference_and_rejects_small_errors():
    c = case("rnn_step_forward", seed=1, N=3, D=4, H=2)
    next_h = reference(c)["next_h"]
    expected = {"next_h": fingerprint(next_h)}
    check(c, expected, next_h=next_h)
    with pytest.raises(AssertionError, match="next_h differs"):
        check(c, expected, next_h=next_h * (1 + 1e-5))
    with pytest.raises(AssertionError, match="next_h differs"):
        check(c, expected, next_h=next_h[:, :1])
    with pytest.raises(AssertionError, match="no value given for next_h"):
        check(c, expected)
    with pytest.raises(AssertionError, match="NaN"):
        check(c, expected, next_h=np.full_like(next_h, np.nan))
    with pytest.raises(AssertionError, match="not a numeric array"):
        check(c, expected, next_h="hello")


def test_check_is_not_fooled_by_monkeypatched_numpy(monkeypatch):
    c = case("rnn_step_forward", seed=1, N=3, D=4, H=2)
    next_h = reference(c)["next_h"]
    expected = {"next_h": fingerprint(next_h)}
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    monkeypatch.setattr(np, "dot", lambda *a, **k: 0.0)
    monkeypatch.setattr(np, "sum", lambda *a, **k: 0.0)
    monkeypatch.setattr(np, "abs", lambda *a, **k: 0.0)
    monkeypatch.setattr(np, "max", lambda *a, **k: 0.0)
    with pytest.raises(AssertionError):
        check(c, expected, next_h=np.zeros_like(next_h))


def test_submit_displays_the_protocol_payload(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    c = case("rnn_step_backward", seed=2, N=1, D=3, H=4)
    grads = reference(c)
    submit(c, **grads)
    (obj, raw), = shown
    assert raw and obj["text/plain"] == "submitted rnn_step_backward"
    payload = json.loads(json.dumps(obj[grading.MIME_TYPE]))
    assert payload["name"] == "rnn_step_backward" and payload["seed"] == 2
    assert payload["dims"] == {"N": 1, "D": 3, "H": 4}
    assert set(payload["outputs"]) == {"dx", "dprev_h", "dWx", "dWh", "db"}
    for key, out in payload["outputs"].items():
        array = np.frombuffer(base64.b64decode(out["b64"]), dtype=np.dtype(out["dtype"]))
        np.testing.assert_array_equal(array.reshape(out["shape"]), grads[key])


@pytest.mark.parametrize("name", sorted(references.names()))
def test_reference_outputs_are_finite_and_float64(name):
    dims = {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6, "M": 3, "temperature": 0.5, "alpha": 0.5,
            "chunk": 2, "P": 2, "W": 3, "max_length": 4, "S": 3, "A": 2, "attention": "additive"}
    import inspect
    params = inspect.signature(GENERATORS[name]).parameters
    inputs = case(name, seed=0, **{k: v for k, v in dims.items() if k in params})
    outputs = reference(inputs)
    assert outputs
    for key, value in outputs.items():
        value = np.asarray(value)
        assert value.dtype == np.float64 or np.issubdtype(value.dtype, np.integer), key
        assert np.all(np.isfinite(value)), key


def _hidden_cases():
    """(notebook, grade_id, case name, seed, dims, submitted keys) of every hidden case."""
    import ast

    from _exercises_util import nbgrader_meta, read, solution_notebooks

    found = []
    for path in solution_notebooks():
        for cell in read(path).cells:
            meta = nbgrader_meta(cell)
            if not (meta.get("grade") and cell.cell_type == "code"):
                continue
            calls = [n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name)]
            keys = {frozenset(k.arg for k in n.keywords) for n in calls if n.func.id == "submit"}
            for n in calls:
                if n.func.id == "case":
                    dims = {k.arg: ast.literal_eval(k.value) for k in n.keywords}
                    seed = dims.pop("seed")
                    found.append((path.parent.name, meta["grade_id"],
                                  ast.literal_eval(n.args[0]), seed, dims, keys))
    return found


def test_every_hidden_case_has_a_reference_for_what_it_submits():
    cases = _hidden_cases()
    assert len(cases) >= 2 * 30
    for assignment, grade_id, name, seed, dims, keys in cases:
        assert len(keys) == 1, f"{assignment}/{grade_id}: one set of submitted keys per cell"
        expected = reference(case(name, seed, **dims))
        assert set(expected) == set(next(iter(keys))), f"{assignment}/{grade_id} {name}"
    # T = 1, N = 1 and H != D appear among the hidden cases of the recurrent layers.
    recurrent = [d for _, _, n, _, d, _ in cases if n.endswith(("_forward", "_backward"))]
    assert any(d.get("N") == 1 for d in recurrent)
    assert any(d.get("T") == 1 for d in recurrent)
    assert any("H" in d and "D" in d and d["H"] != d["D"] for d in recurrent)
