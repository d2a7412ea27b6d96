"""The round trip with the project's grader: release -> submissions -> `python -m autograder
grade`, on every assignment.

The same three students as tests/test_exercises_roundtrip.py (built once per pytest run by the
`roundtrip_course` fixture) plus two graded by the project's grader only:
``slightly_wrong`` empties its wrong function's test cell, which the grader puts back from
the source and runs on the student's code, as stock nbgrader does; ``honest_mistake`` has the
same wrong function and no cheating, and ``patched_numpy`` has the wrong function and the
cheat cell (rebound `check`, always-true `np.allclose`) but leaves every test cell intact.

Expected, per assignment and per question of OUT/grades.csv: ``complete`` has full marks and
status `ok` on every auto-graded question; ``blank`` has 0 on each; ``slightly_wrong`` loses
exactly its spoiled function's question (status `failed`, with `restored` = emptied) and
keeps the rest despite its patched `check` and `np.allclose`; ``honest_mistake`` and
``patched_numpy`` lose exactly that question (status `failed`: the outside comparison is not
fooled). Written answers are `manual` rows with an empty score (``blank``'s, left as
released, are `unanswered` with 0, as nbgrader gives them). The automatic
scores of the three shared students equal stock nbgrader's on the same files.
"""

import csv
import html
import shutil
import subprocess
import sys

import nbformat
import pytest
from _exercises_roundtrip_course import STUDENTS, add_cheat_cell, auto_cells, fill, spoiled
from _exercises_util import (
    ROOT,
    SOLUTIONS,
    hidden_lines,
    nbgrader_meta,
    points,
    read,
    solution_notebooks,
)

pytestmark = [pytest.mark.xdist_group("exercises_roundtrip_grader"), pytest.mark.sandbox]


HONEST = "honest_mistake"
# The wrong function and the cheat cell of `slightly_wrong`, with every test cell intact: the
# in-kernel assertions are disabled, and only the grader's outside comparison of the submitted
# outputs with rnnlib's reference stands between this student and full marks.
PATCHED = "patched_numpy"


def manual_questions(nb):
    """grade_ids of the questions a person grades (graded markdown answers)."""
    return {nbgrader_meta(c)["grade_id"] for c in nb.cells
            if nbgrader_meta(c).get("grade") and c.cell_type == "markdown"}


def expected_rows(path, student):
    """{question: (score, status)} expected in grades.csv (status None: any, see blank)."""
    nb = read(path)
    auto = auto_cells(nb)
    rows = {q: ("", "manual") for q in manual_questions(nb)}
    if student == "blank":  # written answers left as released: 0 at once, as nbgrader gives
        return {q: (0.0, "unanswered") for q in rows} | {q: (0.0, None) for q in auto}
    rows |= {q: (float(value), "ok") for q, value in auto.items()}
    if student in ("slightly_wrong", HONEST, PATCHED):
        rows[f"test_{spoiled(path)}"] = (0.0, "failed")
    return rows


def secret_lines(release):
    """The hidden-test lines of every assignment that students never see (the hidden blocks
    also repeat lines of the released notebook, such as the imports)."""
    visible = {line.strip() for path in release.glob("*/*.ipynb")
               for cell in read(path).cells for line in cell.source.splitlines()}
    return {line for path in solution_notebooks() for line in hidden_lines(read(path))
            if line not in visible}


def leaks(out, secrets):
    """(file, line) for every secret line found in a file under `out`, as text or escaped."""
    found = []
    for path in sorted(out.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            text += "\n" + html.unescape(text)
            found += [(str(path.relative_to(out)), line) for line in secrets if line in text]
    return found


def grade(submissions, out):
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
               "--source", str(SOLUTIONS), "--workers", "2", "--quiet"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(out / "grades.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_round_trip_with_the_project_grader(roundtrip_course, tmp_path):
    submitted = roundtrip_course.submissions()
    submissions = tmp_path / "submissions"
    shutil.copytree(submitted, submissions)
    release = submitted.parent / "release"
    for path in solution_notebooks():
        for student in (HONEST, PATCHED):
            out = submissions / student / path.parent.name / path.name
            out.parent.mkdir(parents=True)
            nb = fill(read(release / path.parent.name / path.name), read(path), spoiled(path))
            nbformat.write(add_cheat_cell(nb) if student == PATCHED else nb, out)

    out = tmp_path / "out"
    rows = grade(submissions, out)
    keys = [(r["student"], r["assignment"], r["notebook"], r["question"]) for r in rows]
    assert len(keys) == len(set(keys)), "a question appears twice in grades.csv"
    got = {key: r for key, r in zip(keys, rows, strict=True)}

    problems = []
    students = (*STUDENTS, HONEST, PATCHED)
    want_keys = set()
    for path in solution_notebooks():
        assignment, notebook = path.parent.name, path.stem
        for student in students:
            for question, (score, status) in expected_rows(path, student).items():
                key = (student, assignment, notebook, question)
                want_keys.add(key)
                row = got.get(key)
                if row is None:
                    problems.append(f"{key}: no row")
                    continue
                have = float(row["score"]) if row["score"] else ""
                if have != score or status is not None and row["status"] != status:
                    problems.append(f"{key}: got {have!r} {row['status']}, "
                                    f"expected {score!r} {status or '(any status)'}")
                if float(row["max_score"]) != points(read(path))[question]:
                    problems.append(f"{key}: max_score {row['max_score']}")
    extra = set(keys) - want_keys
    assert not extra, f"unexpected rows: {sorted(extra)[:5]}"
    blank_statuses = {got[k]["status"] for k in want_keys
                      if k[0] == "blank" and got[k]["kind"] == "auto"}
    # The blank release raises NotImplementedError in every graded function: the tests ran and
    # failed (not timeout, crashed or tampered).
    assert blank_statuses <= {"failed"}, blank_statuses
    # The emptied test cell was put back, and says so; no other test cell was.
    for path in solution_notebooks():
        for key, row in got.items():
            if key[1:3] == (path.parent.name, path.stem):
                spoilt = key[0] == "slightly_wrong" and key[3] == f"test_{spoiled(path)}"
                assert row["restored"] == ("emptied" if spoilt else ""), (key, row)

    # No hidden test of any assignment in any file under OUT.
    secrets = secret_lines(release)
    assert len(secrets) > 100
    assert not leaks(out, secrets)

    # Per question, the same automatic scores as stock nbgrader on the same submissions.
    nbgrader = roundtrip_course.nbgrader_scores()
    for path in solution_notebooks():
        assignment, notebook = path.parent.name, path.stem
        for student in STUDENTS:
            for question in auto_cells(read(path)):
                ours = float(got[(student, assignment, notebook, question)]["score"])
                theirs = nbgrader[(student, assignment, notebook)].get(question)
                if theirs is None or ours != float(theirs):
                    problems.append(f"{student} {assignment}/{question}: ours {ours}, "
                                    f"nbgrader {theirs}")
    assert not problems, "\n".join(problems)
