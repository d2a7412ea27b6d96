"""No drift: the committed solutions/ and exercises/ are exactly what the scripts generate."""

import filecmp
import re

import pytest
from _exercises_util import (
    EXERCISES,
    SOLUTIONS,
    build,
    nbgrader_meta,
    read,
    release,
    released_notebooks,
    solution_notebooks,
)


def test_solutions_match_a_fresh_generation():
    stale = build.stale()
    assert not stale, f"run `make solutions`: {stale}"
    generated = {build.target(t, SOLUTIONS) for t in build.templates()}
    assert set(solution_notebooks()) == generated, "a solution notebook has no template"


@pytest.mark.slow
def test_release_matches_a_fresh_release(tmp_path):
    out = tmp_path / "release"
    release.release(out)
    assignments = release.assignments()
    assert assignments
    for assignment in assignments:
        fresh = sorted(p.name for p in (out / assignment).iterdir())
        committed = sorted(p.name for p in (EXERCISES / assignment).iterdir())
        assert fresh == committed, assignment
        match, mismatch, errors = filecmp.cmpfiles(out / assignment, EXERCISES / assignment,
                                                   fresh, shallow=False)
        assert not mismatch and not errors, f"run `make release`: {assignment} {mismatch}"
    released = {p.name for p in EXERCISES.iterdir() if p.name[:2].isdigit()}
    assert released == set(assignments), "a released assignment has no source"


def test_the_release_holds_an_exact_copy_of_the_base_package():
    files = set(map(str, release.package_files(release.BASE_PACKAGE)))
    assert {"pyproject.toml", "checks.py", "grading/__init__.py", "grading/cases.py"} <= files
    drift = release.package_drift(EXERCISES / release.BASE_PACKAGE.name)
    assert not drift, f"run `make release`: exercises/rnntools differs in {drift}"


def test_the_package_drift_check_sees_every_difference(tmp_path):
    copy = release.copy_base_package(tmp_path)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "checks.cpython-311.pyc").write_bytes(b"")  # by-products: ignored
    assert release.package_drift(copy) == []
    with open(copy / "checks.py", "a") as f:
        f.write("\n")
    (copy / "grading" / "extra.py").write_text("")
    (copy / "activations.py").unlink()
    assert release.package_drift(copy) == ["activations.py", "checks.py", "grading/extra.py"]


def test_notebooks_are_stripped_and_have_unique_grade_ids():
    for path in solution_notebooks():
        nb = read(path)
        ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
        assert len(ids) == len(set(ids)), path
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path
            meta = nbgrader_meta(cell)
            if meta:
                assert meta["schema_version"] == 3, path
            if meta.get("grade"):
                assert meta["points"] > 0, path


def test_notebooks_never_import_rnnlib():
    """Solutions run as a student's kernel would (numpy and rnntools only), and the release
    must not point students at the reference library."""
    pattern = re.compile(r"^\s*(import\s+rnnlib|from\s+rnnlib\b)", re.MULTILINE)
    for path in solution_notebooks() + released_notebooks():
        for cell in read(path).cells:
            assert not pattern.search(cell.source), f"{path} imports rnnlib"
