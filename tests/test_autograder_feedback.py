"""Feedback that teaches and leaks nothing: the course plugin's explanation of a failed hidden
test (which output, its relative error, a shape or dtype mismatch, a builtin exception's
name; never an input, a seed, a size or an expected value), the row text that grades.csv,
results.json and the feedback page share, and markdown with math rendered as MathML in a
page without scripts or outside resources."""

import re

import numpy as np
import pytest

from autograder.stages.feedback import markdown, row_text
from course.plugin import Cases, expected, explain
from rnntools import grading
from rnntools.grading import MIME_TYPE

NAME, SEED, DIMS = "rnn_step_backward", 4321, {"N": 7, "D": 11, "H": 13}
CASES = Cases(((NAME, SEED, DIMS),), frozenset())


@pytest.fixture(scope="module")
def ref():
    return expected(NAME, SEED, tuple(sorted(DIMS.items())))


def _shown(outputs, error=None):
    payload = {"name": NAME, "seed": SEED, "dims": DIMS,
               "outputs": {k: grading._encode(v) for k, v in outputs.items()}}
    cells = [{"output_type": "display_data", "data": {MIME_TYPE: payload}}] if outputs else []
    if error:
        cells.append({"output_type": "error", "ename": error, "evalue": f"seed {SEED} N=7",
                      "traceback": []})
    return cells


def _leaks(message, ref):
    """What of the hidden case a message gives away: its seed, its sizes, an expected value.
    Relative errors, axis numbers and dtype names are what a message may contain."""
    text = re.sub(r"relative error [0-9.e+-]+", "", message)
    text = re.sub(r"float(16|32|64)|axis [0-9, ]+", "", text)
    numbers = set(re.findall(r"\d+(?:\.\d+)?", text))
    found = numbers & ({str(SEED)} | {str(v) for v in DIMS.values()})
    values = {f"{v:.3g}" for a in ref.values() for v in np.ravel(a)[:20]}
    return found | {v for v in values if v in message}


def test_explain_names_the_output_and_its_relative_error(ref):
    wrong = dict(ref, dx=ref["dx"] * 1.05)
    message = explain(CASES, _shown(wrong))
    assert message.startswith(f"{NAME}: dx differs from the reference (relative error ")
    assert re.search(r"relative error 2\.\de-02\)$", message), message
    assert not _leaks(message, ref)


def test_explain_names_a_shape_mismatch_by_its_axes_not_its_sizes(ref):
    message = explain(CASES, _shown(dict(ref, db=np.tile(ref["db"], 2))))
    assert message == (f"{NAME}: db has the wrong shape: another length along axis 0 than "
                       "the reference's")
    message = explain(CASES, _shown(dict(ref, dWh=ref["dWh"][None])))
    assert message == f"{NAME}: dWh has the wrong shape: 3 axes where the reference has 2"
    assert not _leaks(message, ref)


def test_explain_names_a_dtype_and_non_finite_values(ref):
    message = explain(CASES, _shown(dict(ref, dx=(ref["dx"] * 1.01).astype(np.float32))))
    assert "dtype float32 where the reference has float64" in message, message
    nan = ref["dprev_h"].copy()
    nan[0, 0] = np.nan
    assert explain(CASES, _shown(dict(ref, dprev_h=nan))) == \
        f"{NAME}: dprev_h contains NaN or infinity"


def test_explain_gives_only_a_builtin_exception_name(ref):
    # The exception's message could print a hidden input: only its (builtin) name is kept.
    assert explain(CASES, _shown({}, error="ValueError")) == \
        f"{NAME}: your code raised ValueError on a hidden case"
    assert explain(CASES, _shown({}, error="Seed4321Leak")) == \
        f"{NAME}: your code raised an exception on a hidden case"
    assert explain(CASES, _shown(ref)) == ""


def test_planted_leak_is_caught(ref):
    """The leak check itself can fail: a message that names the seed or a value is caught."""
    assert _leaks(f"{NAME}: dx differs (seed {SEED})", ref)
    assert _leaks(f"{NAME}: expected {np.ravel(ref['dx'])[0]:.3g}", ref)


def test_row_text_is_the_same_words_everywhere():
    row = {"status": "failed", "message": f"{NAME}: dx differs from the reference (relative "
                                          "error 5.1e-02)", "note": ""}
    assert row_text(row) == f"failed: {row['message']}"
    assert row_text({"status": "ok", "message": "", "note": "late"}) == "ok; late"


def test_markdown_and_math_render_without_scripts_or_outside_resources():
    page = markdown("# The loss\n\nSoftmax: $p_i = e^{s_i} / \\sum_j e^{s_j}$ and\n\n"
                    "$$\\log \\sum_j e^{s_j} = m + \\log \\sum_j e^{s_j - m}$$\n\n"
                    "*careful* <script>alert(1)</script> ![x](https://example.org/x.png) "
                    "<img src=https://example.org/y.png>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h1>The loss</h1>" in page and "<em>careful</em>" in page and "<table>" in page
    assert page.count("<math") == 2 and 'display="block"' in page and "<msub>" in page
    assert "$" not in page
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page  # a student's raw HTML is shown as text
    # Links may point elsewhere (a click, not a load); nothing is loaded from elsewhere.
    assert not re.search(r"<[^>]*\ssrc=", page)


def test_unknown_latex_falls_back_to_code():
    page = markdown("$\\begin{nonsense}$")
    assert "<script" not in page
    assert "<math" in page or "<code>" in page
