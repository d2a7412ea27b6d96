"""The grader's live holes, closed (docs/grader.md, "Pass or fail" and "The sandbox"):

* nbgrader's own cheat notebooks (in the installed wheel) score exactly as stock
  `nbgrader autograde` scores them, in the same run;
* 03_char_lm's plain test cell (no protocol case) earns nothing from the blank release plus
  the two-line showtraceback cheat;
* without a working bubblewrap the grader refuses to run student code, naming what is missing,
  unless --no-sandbox is given; then student code runs as an unprivileged uid, and the grader
  refuses when that uid could read the source notebooks.

The named attacks on plain tests and the hostile files are in the adversarial corpus
(test_autograder_corpus.py), graded in its one run.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import nbgrader
import pytest

pytestmark = [pytest.mark.xdist_group("autograder_threats"), pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[1]
FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
CHEATS = {"foo": "submitted-unchanged", "bar": "submitted-changed",
          "spam": "submitted-cheat-attempt", "eggs": "submitted-cheat-attempt-alternative"}


def grade(subs, out, source, *extra, env=None, cmd_wrap=lambda c: c):
    cmd = cmd_wrap([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
                    "--source", str(source), "--timeout", "20", "--quiet", *extra])
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=env or dict(os.environ, PYTHONPATH=str(ROOT)))


def rows_of(out):
    with open(Path(out) / "grades.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def private(path):
    """Make `path` (and what is below it) unreadable for other users, as a course is."""
    for p in [Path(path), *Path(path).rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode & 0o700)
    return path


@pytest.mark.slow
def test_nbgrader_cheat_notebooks_score_as_stock_nbgrader(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    shutil.copy(FILES / "submitted-unchanged.ipynb", course / "source" / "ps1" / "p1.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'cheats'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n")
    for student, name in CHEATS.items():
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        shutil.copy(FILES / f"{name}.ipynb", course / "submitted" / student / "ps1" / "p1.ipynb")
    private(tmp_path)
    corpus.nbgrader(course, "generate_assignment", "ps1", "--force")
    corpus.nbgrader(course, "autograde", "ps1", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        theirs = {(s, g.name): g.auto_score for s in CHEATS
                  for g in gb.find_submission_notebook("p1", "ps1", s).grades
                  if g.cell.cell_type == "code" and g.auto_score is not None}
    # nbgrader's own test of these notebooks expects 1 point for each cheat attempt.
    assert {s: sum(v for (t, _), v in theirs.items() if t == s) for s in CHEATS} == {
        "foo": 1, "bar": 2, "spam": 1, "eggs": 1}

    run = grade(course / "submitted", tmp_path / "out", course / "source")
    assert run.returncode == 0, run.stderr
    rows = rows_of(tmp_path / "out")
    ours = {(r["student"], r["question"]): float(r["score"]) for r in rows
            if r["status"] != "manual"}
    # the tests, and the code answer left unchanged (0 at once, as nbgrader gives it)
    assert {k for k in ours if k[1] != "baz"} == {
        (s, q) for s in CHEATS for q in ("foo", "bar")} | {("foo", "quux")}
    assert {k: v for k, v in ours.items() if k in theirs} == theirs
    for r in rows:
        if r["student"] in ("spam", "eggs"):
            assert "InteractiveShell.showtraceback" in r["note"], r  # and it is recorded


@pytest.mark.slow
def test_plain_test_cell_of_char_lm_resists_the_cheat(tmp_path):
    release = ROOT / "exercises" / "03_char_lm" / "char_lm.ipynb"
    nb = nbformat.read(str(release), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(corpus.CHEAT_TRACEBACK))
    folder = tmp_path / "subs" / "cheater" / "03_char_lm"
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / "char_lm.ipynb"))
    run = grade(tmp_path / "subs", tmp_path / "out", ROOT / "solutions", "--assignment",
                "03_char_lm")
    assert run.returncode == 0, run.stderr
    rows = {r["question"]: r for r in rows_of(tmp_path / "out")}
    assert rows["test_training"]["score"] == "0.0", rows["test_training"]
    assert all(r["score"] in ("0.0", "") for r in rows.values())
    assert "showtraceback" in rows["test_training"]["note"]


@pytest.fixture
def broken_bwrap(tmp_path):
    """A PATH whose first bwrap exists and cannot start a sandbox."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed' >&2\nexit 1\n")
    fake.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT))


@pytest.fixture
def tiny_class(tmp_path):
    """A one-question course whose test passes only when student code is not root."""
    src = tmp_path / "course" / "source" / "a1"
    src.mkdir(parents=True)
    cells = [nbformat.v4.new_code_cell("import os\nME = os.getuid(), os.geteuid()",
                                       metadata=corpus._meta("me", solution=True)),
             nbformat.v4.new_code_cell("assert 0 not in ME, 'student code ran as root'",
                                       metadata=corpus._meta("test_not_root", grade=True,
                                                             locked=True, points=1))]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(src / "nb.ipynb"))
    subs = tmp_path / "course" / "submitted"
    (subs / "ann" / "a1").mkdir(parents=True)
    shutil.copy(src / "nb.ipynb", subs / "ann" / "a1" / "nb.ipynb")
    private(tmp_path)
    return tmp_path / "course" / "source", subs


def test_refuses_without_a_working_sandbox(tmp_path, broken_bwrap, tiny_class):
    source, subs = tiny_class
    run = grade(subs, tmp_path / "out", source, env=broken_bwrap)
    assert run.returncode == 2
    assert "refusing to run student code" in run.stderr and "bubblewrap" in run.stderr
    assert "Creating new namespace failed" in run.stderr  # what bwrap itself said
    assert "--no-sandbox" in run.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="dropping to a private uid needs root")
def test_no_sandbox_runs_unprivileged_and_says_so(tmp_path, broken_bwrap, tiny_class):
    source, subs = tiny_class
    out = tmp_path / "out"
    run = grade(subs, out, source, "--no-sandbox", env=broken_bwrap,
                cmd_wrap=corpus.reachable_python)
    assert run.returncode == 0, run.stderr
    [row] = rows_of(out)
    assert (row["score"], row["status"]) == ("1.0", "ok"), row
    assert "UNSANDBOXED" in run.stderr
    assert "UNSANDBOXED" in json.loads((out / "results.json").read_text())["extra_data"][
        "warnings"][0]
    assert out.stat().st_mode & 0o077 == 0  # other students' results stay private

    # The same class where Python is closed to other users: refused, never run as root.
    from autograder.sandbox import BASE_UID, _unreachable_for

    if _unreachable_for(BASE_UID):
        run = grade(subs, tmp_path / "out2", source, "--no-sandbox", env=broken_bwrap)
        assert run.returncode == 2 and "unprivileged uid, which cannot read" in run.stderr

    # A source folder other users can read: refused (the student's uid could read it).
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as shared:
        Path(shared).chmod(0o755)
        open_source = Path(shared) / "source"
        shutil.copytree(source, open_source)
        for p in [open_source, *open_source.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o055)
        run = grade(subs, tmp_path / "out3", open_source, "--no-sandbox", env=broken_bwrap,
                    cmd_wrap=corpus.reachable_python)
    assert run.returncode == 2, run.stderr
    assert "could read" in run.stderr and str(open_source) in run.stderr
