"""The round trip with stock nbgrader: release -> submissions -> `nbgrader autograde`.

One course in a temporary folder with three students who each submit every assignment
(tests/_exercises_roundtrip_course.py): ``complete`` (the solution cells of solutions/ pasted
into the release) gets full marks, ``blank`` (the release untouched) gets zero on every
auto-graded question, and ``slightly_wrong`` (complete, but one function per assignment returns
a first output off by 0.1%) loses exactly that function's points. ``slightly_wrong`` also tries
to cheat, without effect: it rebinds `check`, makes `np.allclose` and
`np.testing.assert_allclose` always pass, and empties the hidden test cell of its wrong
function (nbgrader restores locked cells from the source). All three are graded by a single
`nbgrader autograde` run, shared with tests/test_exercises_roundtrip_grader.py.
"""

import pytest
from _exercises_roundtrip_course import SPOILED, auto_cells, spoiled
from _exercises_util import read, solution_notebooks


# One test, so that the course is built and graded once; the `roundtrip_course` fixture also
# runs nbgrader only once per pytest run when several xdist workers ask for it.
@pytest.mark.slow
def test_round_trip_with_stock_nbgrader(roundtrip_course):
    graded = roundtrip_course.nbgrader_scores()
    assert {name for _, name, _ in graded} == set(SPOILED), "SPOILED must name every assignment"
    problems = []
    for path in solution_notebooks():
        key = path.parent.name, path.stem
        expected = auto_cells(read(path))
        if len(expected) < 4:
            problems.append(f"{key}: fewer than four auto-graded questions")
        scenarios = {
            "complete": expected,
            "blank": dict.fromkeys(expected, 0),
            "slightly_wrong": {**expected, f"test_{spoiled(path)}": 0},
        }
        for student, want in scenarios.items():
            got = graded[(student, *key)]
            got = {k: got.get(k) for k in want}
            if got != want:
                problems.append(f"{student} {key}: got {got}, expected {want}")
    assert not problems, "\n".join(problems)
