"""The independent-implementations corpus, graded by both graders (tests/corpus/, described in
tests/_exercises_corpus.py).

Every style is pasted into its assignment's released notebook (one notebook per style and
assignment), and the notebooks are graded by stock `nbgrader autograde` (whose executed
notebooks also give the verdict of every visible test, run in order as a student runs them)
and by the project's grader. Per question:

- a correct style passes every visible test and earns full marks under both graders;
- a wrong style loses exactly the questions its ``LOSES`` names (its bugs and their written
  cascades), under both graders, and a visible test of each of those questions fails;
- visible and hidden verdicts agree on every question of every notebook;
- our grader's row for a lost question says which output is wrong (its message), and a
  question that passed has none.

The corpus table (function x implementation x visible x ours x stock nbgrader) is written to
OUT/corpus_table.md and printed.
"""

import html
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from _exercises_corpus import (
    CORPUS,
    failed_cells,
    fill,
    grade_ours,
    nbgrader_autograde,
    short,
    styles,
    submissions,
    visible_map,
)
from _exercises_util import EXERCISES, ROOT, SOLUTIONS, read, release

from autograder.stages.feedback import row_text, scan_tree
from autograder.stages.plan import load_plans
from course import manifest

TABLE = CORPUS / "TABLE.md"
TABLE_HEAD = """# The corpus table

Written by tests/test_exercises_corpus.py (`RNN_CORPUS_WRITE=1`), which fails when a run
differs from it: every implementation of tests/corpus/ pasted into its released notebook,
its visible verdict (the visible tests run in order by stock nbgrader), its points under
this project's grader and under stock `nbgrader autograde`, out of the question's points,
what it is expected to lose and why, and the message our grader gives for a lost question
(the same words in grades.csv, results.json and the feedback page)."""

pytestmark = [pytest.mark.xdist_group("exercises_corpus"), pytest.mark.sandbox,
              pytest.mark.slow]


def _verdict(failed):
    return "fail" if failed else "pass"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    course = root / "course"
    course.mkdir()
    # A fresh release: it also puts the assignments into the gradebook stock nbgrader needs.
    release.release(course / "release", log_dir=course)
    keys = [(p.parts[-3], p.parts[-2], p.stem)
            for p in submissions(course / "release", course / "submitted")]
    # The two graders at once: stock nbgrader runs one kernel at a time.
    out = root / "out"
    with ThreadPoolExecutor(1) as pool:
        stock = pool.submit(nbgrader_autograde, course, keys)
        mine = grade_ours(course / "submitted", out)
        theirs = stock.result()
    return {"course": course, "out": out, "ours": mine, "nbgrader": theirs, "keys": keys}


def test_every_graded_function_has_three_correct_styles_and_a_wrong_one():
    """Three correct implementations of every graded function, and one with a bug of its own
    (a ``LOSES`` entry that says "own bug"; cascades do not count)."""
    correct, wrong = {}, set()
    for style in styles():
        if style.correct:
            for name in style.units:
                correct[name] = correct.get(name, 0) + 1
        assignment = manifest.load(manifest.COURSE / style.assignment)
        wrong |= {assignment.question(g).function for g, why in style.loses.items()
                  if "own bug" in why}
    graded = [q.function for q in manifest.checks().values()]
    few = {n: correct.get(n, 0) for n in graded if correct.get(n, 0) < 3}
    assert not few, f"fewer than three correct implementations: {few}"
    unwrong = [n for n in graded if n not in wrong]
    assert not unwrong, f"no implementation with a bug of its own of {unwrong}"


def test_visible_and_hidden_verdicts_agree_under_both_graders(graded):
    course, problems, table = graded["course"], [], []
    for style in styles():
        assignment = manifest.load(manifest.COURSE / style.assignment)
        for path in sorted((SOLUTIONS / style.assignment).glob("*.ipynb")):
            executed = read(course / "autograded" / style.student / style.assignment
                            / path.name)
            failed = failed_cells(executed)
            mapping = visible_map(style.assignment, read(path))
            rows = graded["ours"][(style.student, style.assignment)]
            theirs = graded["nbgrader"][(style.student, style.assignment)]
            key = f"{style.assignment}/{style.name}"
            stray = set(failed) - {c for cells in mapping.values() for c in cells}
            stray -= {q.grade_id for q in assignment.questions}  # hidden cells: below
            if stray:
                problems.append(f"{key}: cells failed that check no question: "
                                f"{ {c: failed[c] for c in stray} }")
            for question, cells in mapping.items():
                q = assignment.question(question)
                lost = question in style.loses
                stricter = question in style.visible
                visible_failed = [c for c in cells if c in failed]
                row = rows[question]
                ours_lost = float(row["score"]) < q.points
                theirs_lost = float(theirs.get(question) or 0) < q.points
                if not cells:
                    problems.append(f"{key}: {question} has no visible test")
                if bool(visible_failed) != (lost or stricter):
                    problems.append(f"{key}: {question}: visible {_verdict(visible_failed)} "
                                    f"({visible_failed}), expected "
                                    f"{'fail' if lost or stricter else 'pass'}")
                if ours_lost != lost or theirs_lost != lost:
                    problems.append(f"{key}: {question}: ours {row['score']} ({row['status']}),"
                                    f" nbgrader {theirs.get(question)}, expected "
                                    f"{'0' if lost else q.points}")
                if ours_lost and q.kind == "cases" and not row.get("message"):
                    problems.append(f"{key}: {question}: no message for a lost question")
                if not ours_lost and row.get("message"):
                    problems.append(f"{key}: {question}: message {row['message']!r} on a pass")
                expect = style.loses.get(question, "") or (
                    f"none; visible only: {style.visible[question]}" if stricter else "")
                order = [g.grade_id for g in assignment.questions].index(question)
                table.append(((style.assignment, order, not style.correct, style.name),
                              f"{style.assignment[:2]} {q.title or q.function}", style.name,
                              _verdict(visible_failed), f"{float(row['score']):g}",
                              f"{float(theirs.get(question) or 0):g}", f"{q.points:g}", expect,
                              row.get("message", "")))
    text = _table(table)
    (graded["out"] / "corpus_table.md").write_text(text)
    print(text)
    if not os.environ.get("RNN_CORPUS"):  # the whole corpus ran
        if os.environ.get("RNN_CORPUS_WRITE"):
            TABLE.write_text(text)
        elif TABLE.read_text() != text:
            problems.append(f"{TABLE.relative_to(ROOT)} differs from this run's table "
                            f"({graded['out'] / 'corpus_table.md'}): write it with "
                            "RNN_CORPUS_WRITE=1 after checking the difference")
    assert not problems, "\n".join(problems)


def _table(rows):
    lines = [TABLE_HEAD, "",
             "| function | implementation | visible | ours | stock nbgrader | of | expected "
             "loss | our message |", "|---|---|---|---|---|---|---|---|"]
    for _, *cols in sorted(rows, key=lambda r: r[0]):
        cols[-2], cols[-1] = short(cols[-2], 70), short(cols[-1], 90)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def test_feedback_says_the_same_words_and_leaks_nothing(graded):
    """A lost question's message is the same in grades.csv, results.json and the feedback
    page; the pages hold no hidden-test line, no script and load nothing from elsewhere."""
    out = graded["out"]
    results = {t["name"]: t["output"] for t in json.loads((out / "results.json").read_text())
               ["tests"]}
    secrets = [s for plans in load_plans(SOLUTIONS).values() for plan in plans.values()
               for s in plan.secrets]
    assert secrets
    messages = 0
    for (student, assignment), rows in graded["ours"].items():
        for question, row in rows.items():
            name = f"{student} / {assignment} / {row['notebook']} / {question}"
            assert results[name] == row_text(row), name
            page = out / "feedback" / student / assignment / f"{row['notebook']}.html"
            text = html.unescape(page.read_text())
            if row.get("message"):
                messages += 1
                assert f"{row['status']}: {row['message']}" in text, (name, row["message"])
    assert messages  # the wrong styles lost questions, and each says why
    assert not scan_tree(out / "feedback", secrets)
    for page in (out / "feedback").rglob("*.html"):
        text = page.read_text()
        assert "<script" not in text.lower() and not re.search(r"<[^>]*\ssrc=", text), page
    for student, assignment, notebook in graded["keys"]:  # the notebooks handed in
        page = out / "feedback" / student / assignment / f"{notebook}.html"
        assert "<math" in page.read_text(), page  # the notebooks' LaTeX, as MathML


def test_the_corpus_notebooks_run_alone_for_a_student():
    """A style's notebook is ordinary student work: it holds no grading metadata the
    release lacked (fill only changes solution cells)."""
    for style in styles()[:3]:
        path = sorted((SOLUTIONS / style.assignment).glob("*.ipynb"))[0]
        release = read(EXERCISES / style.assignment / path.name)
        nb = fill(read(EXERCISES / style.assignment / path.name), read(path), style)
        assert [c.metadata for c in nb.cells] == [c.metadata for c in release.cells]


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-s", __file__]))
