"""course/: the run lines, the manifests, the generic reference adapter and the checks the build
makes (each shown failing on a planted fault), and the generated points table."""

import textwrap

import numpy as np
import pytest
from _exercises_util import EXERCISES, build, release

from course import manifest, references
from course import steps as run_lines
from rnntools.grading import case


def test_run_lines_render_as_the_hidden_and_visible_cells_write_them():
    steps = [run_lines.parse("rnn_step_forward(x, prev_h, Wx, Wh, b) -> _, cache"),
             run_lines.parse("rnn_step_backward(dnext_h, cache) -> dx, dprev_h, dWx, dWh, db")]
    assert run_lines.render(steps, "_c", "_") == [
        '_, _cache = rnn_step_forward(_c["x"], _c["prev_h"], _c["Wx"], _c["Wh"], _c["b"])',
        '_dx, _dprev_h, _dWx, _dWh, _db = rnn_step_backward(_c["dnext_h"], _cache)']
    assert run_lines.inputs(steps) == ["x", "prev_h", "Wx", "Wh", "b", "dnext_h"]
    assert run_lines.called(steps) == ["rnn_step_backward", "rnn_step_forward"]
    assert run_lines.outputs(steps) == ["dx", "dprev_h", "dWx", "dWh", "db"]
    # Built-ins stay, the case itself is `case`, comprehension variables are left alone, and an
    # input used after an output of the same name was bound means the output.
    steps = [run_lines.parse('f({k: case[k] for k in ("a", "b")}, float(t)) -> out, a'),
             run_lines.parse('out["a"], a -> x, y')]
    assert run_lines.render(steps, "c", "") == [
        'out, a = f({k: c[k] for k in ("a", "b")}, float(c["t"]))', 'x, y = out["a"], a']
    assert run_lines.inputs(steps) == ["t"] and run_lines.called(steps) == ["f"]


@pytest.mark.parametrize("line", ["rnn_forward(x)", "-> h", "f(x) -> _h", "f(x) -> h.T",
                                  "f(x)) -> h"])
def test_malformed_run_lines_are_refused(line):
    with pytest.raises(ValueError, match="run line"):
        run_lines.parse(line)


def test_every_check_has_one_question_and_its_reference_is_the_cell_s_code():
    checks = manifest.checks()
    assert len(checks) >= 37 and set(checks) == references.names()
    q = checks["clip_by_global_norm"]
    inputs = case("clip_by_global_norm", 10, D=3, H=2, max_norm=1.0)
    got = references.expected("clip_by_global_norm", 10, {"D": 3, "H": 2, "max_norm": 1.0})
    assert list(got) == list(q.outputs) == ["dW", "db", "norm"]
    norm = np.sqrt(np.sum(inputs["dW"] ** 2) + np.sum(inputs["db"] ** 2))
    assert np.isclose(got["norm"], norm) and np.isclose(np.sqrt(
        np.sum(got["dW"] ** 2) + np.sum(got["db"] ** 2)), min(norm, 1.0))
    with pytest.raises(KeyError, match="no question"):
        references.expected("not_a_check", 0, {})


# A small course in a temporary folder, to plant faults in.
MANIFEST = """\
questions:
  - grade_id: test_rnn_step_forward
    points: 2
    grades: rnnlib.layers.rnn_step_forward
    case: rnn_step_forward
    run:
      - rnn_step_forward(x, prev_h, Wx, Wh, b) -> next_h, _
    hidden:
      - {seed: 0, N: 1, D: 4, H: 5}
  - grade_id: written
    points: 1
    kind: answer
"""
TEMPLATE = """\
%% markdown
Questions and points: `rnn_step_forward` (2) and one written answer (1).
%% imports id=imports
from rnntools.grading import case, check, submit
%% solution rnn_step_forward
%% hidden test_rnn_step_forward
%% answer written
A model answer.
"""


def small_course(tmp_path, manifest_text=MANIFEST, template=TEMPLATE):
    folder = tmp_path / "01_small"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(manifest_text)
    (folder / "small.cells").write_text(template)
    return folder


def build_small(tmp_path, **texts):
    folder = small_course(tmp_path, **texts)
    return build.build_assignment(manifest.load(folder), root=tmp_path)


def test_the_small_course_builds(tmp_path):
    (nb,) = build_small(tmp_path).values()
    hidden = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                  == "test_rnn_step_forward")
    assert hidden.metadata.nbgrader.points == 2
    assert "_c = case('rnn_step_forward', seed=0, N=1, D=4, H=5)" in hidden.source
    sources = nb.metadata[build.NOTE_KEY]["sources"]
    assert [s.split("/", 1)[1] for s in sources[:2]] == ["01_small/small.cells",
                                                        "01_small/manifest.yaml"]
    assert sources[2].endswith("rnnlib/layers/rnn.py") and len(sources) == 3
    assert "do not edit" in nb.metadata[build.NOTE_KEY]["note"]


@pytest.mark.parametrize("change, message", [
    (("points: 2", "points: 0"), "points must be a positive number"),
    (("    case: rnn_step_forward\n", ""), "missing \\['case'\\]"),
    (("    points: 2\n", "    points: 2\n    weight: 1\n"), "unknown \\['weight'\\]"),
    (("kind: answer", "kind: essay"), "kind must be one of"),
    (("-> next_h, _", "-> next_h, _\n    outputs: [h]"), "outputs \\['h'\\] must be targets"),
    (("grades: rnnlib.layers.rnn_step_forward", "grades: rnn_step_forward"), "dotted path"),
])
def test_a_malformed_manifest_is_refused(tmp_path, change, message):
    folder = small_course(tmp_path, manifest_text=MANIFEST.replace(*change))
    with pytest.raises(ValueError, match=message):
        manifest.load(folder)


@pytest.mark.parametrize("manifest_change, template_change, message", [
    # A question of the manifest that no template places, and a cell naming no question.
    (None, ("%% answer written\n", "%% markdown\n"), "every question of the manifest"),
    (None, ("%% hidden test_rnn_step_forward", "%% hidden test_rnn_forward"), "no question"),
    (None, ("%% answer written", "%% hidden written"), "of kind answer, not cases"),
    (None, ("%% hidden test_rnn_step_forward", "%% visible test_rnn_step_forward"),
     "has no visible cases"),
    (("    hidden:", "    visible:\n      - {seed: 100, N: 3, D: 4, H: 5}\n    hidden:"), None,
     "and every visible check"),
    # The prose announcing the points disagrees with the manifest.
    (None, ("`rnn_step_forward` (2)", "`rnn_step_forward` (3)"), "gives rnn_step_forward 3"),
    # A case the generators do not know, an input the case does not make, a missing function.
    (("case: rnn_step_forward", "case: rnn_step_forwards"), None, "no case generator"),
    (("(x, prev_h,", "(x, h_prev,"), None, "read h_prev, which case"),
    (("rnn_step_forward(x, prev_h, Wx, Wh, b) -> next_h, _",
      "rnn_step_forward(x, prev_h, Wx, Wh, b) -> next_h, _\n      - rnn_twist(next_h) -> h"),
     None, "rnnlib.layers has no function rnn_twist"),
    (("rnn_step_forward(x, prev_h, Wx, Wh, b) -> next_h, _", "x + prev_h -> next_h"),
     None, "never call the graded function"),
])
def test_the_build_refuses_a_course_that_does_not_hold_together(
        tmp_path, manifest_change, template_change, message):
    manifest_text = MANIFEST.replace(*manifest_change) if manifest_change else MANIFEST
    template = TEMPLATE.replace(*template_change) if template_change else TEMPLATE
    with pytest.raises((ValueError, LookupError), match=message):
        build_small(tmp_path, manifest_text=manifest_text, template=template)


def test_a_check_belongs_to_one_question(tmp_path):
    small_course(tmp_path)
    other = tmp_path / "02_again"
    other.mkdir()
    (other / "manifest.yaml").write_text(MANIFEST)
    with pytest.raises(ValueError, match="'rnn_step_forward' is checked by 01_small/"):
        manifest.checks(tmp_path)


def test_the_points_table_of_the_release_is_up_to_date():
    readme = (EXERCISES / "README.md").read_text()
    assert release.with_points_table(readme) == readme, "run `make release`"
    assert "| `02_rnn/rnn.ipynb` | `rnn_step_forward`, `rnn_step_backward`, `rnn_forward`, " \
           "`rnn_backward` | 10 + 2 |" in readme


def test_the_points_table_follows_the_manifests(tmp_path):
    small_course(tmp_path)
    readme = textwrap.dedent(f"""\
        # Exercises
        {release.POINTS_BEGIN}
        | stale |
        {release.POINTS_END}
        after
        """)
    assert release.with_points_table(readme, root=tmp_path).split("\n")[2:5] == [
        "| assignment | you write | points (auto + written) |", "|---|---|---|",
        "| `01_small/small.ipynb` | `rnn_step_forward` | 2 + 1 |"]
    with pytest.raises(ValueError, match="no markers"):
        release.with_points_table("# no table\n", root=tmp_path)


def test_the_last_digits_of_a_fingerprint_are_not_drift():
    """Another BLAS kernel moves the 12th digit of a reference fingerprint: the same build.
    Planted faults: a number off by 1e-6 relative, or changed text, is a different build."""
    text = "check(_c, {'dx': [-0.0561174207912, 2.5e-07, 3.0]}, dx=_dx)"
    assert build.same_build(text, text.replace("207912", "207913"))
    assert build.same_build(text, text.replace("2.5e-07", "2.50000000001e-07"))
    assert not build.same_build(text, text.replace("0.0561174207912", "0.0561174769"))
    assert not build.same_build(text, text.replace("'dx'", "'dy'"))
    assert not build.same_build(text, text.replace("3.0]", "3.0, 4.0]"))
