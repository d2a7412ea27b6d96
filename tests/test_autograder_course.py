"""The nbgrader round trip with this grader in a named course (``--course ROOT``):

nbgrader's own commands release 02_rnn through an exchange, students fetch and submit it, and
`nbgrader collect` keeps their timestamp.txt and submission_secret.txt (with this project's
nbgrader_config.py include list); then `python -m autograder grade --course` grades instead of
`nbgrader autograde`, and nbgrader must see what its own autograde would have left: every
submission autograded (its API), the same scores, the written answers waiting for a person,
nbgrader's late penalty. After a manual grade (through the gradebook API here, through
formgrader in a browser in test_autograder_formgrader.py), `python -m autograder feedback`
writes the pages, `nbgrader release_feedback` delivers them, a student's
`nbgrader fetch_feedback` gets them, and no hidden test is in any of them.
"""

import csv
import html
import shutil
import subprocess
import sys
from pathlib import Path

import autograder_corpus as corpus
import nbformat
import pytest
from _jupyterlab import chromium, lab_server

pytestmark = [pytest.mark.xdist_group("autograder_course"), pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT, NOTEBOOK = "02_rnn", "rnn"
DUE = "2026-06-01 12:00:00 UTC"


def nbgrader(cwd, *args):
    return corpus.nbgrader(cwd, *args)


def project_include():
    """The include list of this project's nbgrader_config.py (what collect keeps)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return list(config.CourseDirectory.include)


def write_config(folder, course, exchange, *, instructor):
    lines = ["c = get_config()", "c.CourseDirectory.course_id = 'rnn-class'",
             f"c.Exchange.root = {str(exchange)!r}",
             # each person's own record of submissions (nbgrader keeps it in $HOME)
             f"c.Exchange.cache = {str(folder / 'nbgrader_cache')!r}"]
    if instructor:
        lines += [f"c.CourseDirectory.root = {str(course)!r}",
                  f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'",
                  f"c.CourseDirectory.include = {project_include()!r}",
                  "c.LateSubmissionPlugin.penalty_method = 'zero'",
                  "c.Autograder.plugin = 'course.plugin:RnnCourse'"]
    (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n")


def student_submits(tmp, exchange, student, fill_from=None):
    home = tmp / f"home_{student}"
    home.mkdir()
    write_config(home, None, exchange, instructor=False)
    nbgrader(home, "fetch_assignment", ASSIGNMENT, "--course", "rnn-class")
    path = home / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    if fill_from is not None:
        nb = corpus.fill(nbformat.read(str(path), as_version=4), fill_from)
        nbformat.write(nb, str(path))
    nbgrader(home, "submit", ASSIGNMENT, "--course", "rnn-class", "--student", student)
    return home


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    root, exchange = tmp / "course", tmp / "exchange"
    exchange.mkdir()
    (root / "source").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    write_config(root, root, exchange, instructor=True)
    nbgrader(root, "db", "assignment", "add", ASSIGNMENT, "--duedate", DUE)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(root, "release_assignment", ASSIGNMENT)
    source_nb = nbformat.read(str(root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"),
                              as_version=4)
    homes = {s: student_submits(tmp, exchange, s, source_nb if s != "bob" else None)
             for s in ("alice", "bob", "carol")}
    nbgrader(root, "collect", ASSIGNMENT)
    # alice handed in an hour after the due date, bob and carol before it.
    for student, stamp in (("alice", "2026-06-01 13:00:00.000000 UTC"),
                           ("bob", "2026-06-01 10:00:00.000000 UTC"),
                           ("carol", "2026-05-30 09:00:00.000000 UTC")):
        (root / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(stamp)
    out = tmp / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(root),
                          "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {"root": root, "exchange": exchange, "homes": homes, "rows": rows, "out": out}


def api(root):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def hidden_lines():
    nb = nbformat.read(str(ROOT / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if "HIDDEN TESTS" in line:
                inside = "BEGIN" in line
            elif inside and line.strip().startswith("_c = case("):
                lines.add(line.strip())
    return lines


@pytest.mark.slow
def test_collect_keeps_what_lateness_and_feedback_need(course):
    for student in ("alice", "bob", "carol"):
        folder = course["root"] / "submitted" / student / ASSIGNMENT
        assert (folder / "timestamp.txt").is_file() and (folder / "submission_secret.txt").is_file()


@pytest.mark.slow
def test_nbgrader_sees_what_its_autograde_would_leave(course):
    nbg = api(course["root"])
    assert nbg.get_autograded_students(ASSIGNMENT) == {"alice", "bob", "carol"}
    ours = {}
    for r in course["rows"]:
        if r["score"]:
            ours[r["student"]] = ours.get(r["student"], 0.0) + float(r["score"])
    theirs = {s["student"]: s for s in nbg.get_submissions(ASSIGNMENT)}
    for student in ("alice", "bob", "carol"):
        assert theirs[student]["autograded"], student
        assert theirs[student]["score"] == pytest.approx(ours[student]), student
    assert ours["alice"] == ours["carol"] == 10 and ours["bob"] == 0
    # alice and carol wrote the written answer: a person must grade it; bob left it as
    # released, so it is 0 at once, as nbgrader's autograde gives it.
    assert theirs["carol"]["needs_manual_grade"] and not theirs["bob"]["needs_manual_grade"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['root']}/gradebook.db") as gb:
        late = gb.find_submission(ASSIGNMENT, "alice")
        assert late.total_seconds_late == 3600
        assert gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "alice") \
            .late_submission_penalty == 10  # nbgrader's 'zero' rule: the whole score
        assert gb.find_submission(ASSIGNMENT, "carol").total_seconds_late == 0
    # The autograded notebooks are nbgrader notebooks with nbgrader's metadata.
    nb = nbformat.read(str(course["root"] / "autograded" / "carol" / ASSIGNMENT
                           / f"{NOTEBOOK}.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")) == 5


@pytest.mark.slow
def test_feedback_after_manual_grading_reaches_the_student(course):
    from nbgrader.api import Gradebook

    root = course["root"]
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        written = [g for g in gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "alice").grades
                   if g.cell.cell_type == "markdown"][0]
        written.manual_score = 1.5
        comment = gb.find_comment(written.name, NOTEBOOK, ASSIGNMENT, "alice")
        comment.manual_comment = "Clear, but say why tanh saturates."
        gb.db.commit()
    run = subprocess.run([sys.executable, "-m", "autograder", "feedback", "--course", str(root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    page = (root / "feedback" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "Clear, but say why tanh saturates." in html.unescape(page)
    assert "graded" in page and "late penalty 10 points" in page
    nbgrader(root, "release_feedback", ASSIGNMENT)
    home = course["homes"]["alice"]
    nbgrader(home, "fetch_feedback", ASSIGNMENT, "--course", "rnn-class", "--student", "alice")
    fetched = list((home / ASSIGNMENT / "feedback").rglob("*.html"))
    assert [p.name for p in fetched] == [f"{NOTEBOOK}.html"]
    assert "Clear, but say why tanh saturates." in html.unescape(fetched[0].read_text())
    secrets = hidden_lines()
    assert len(secrets) >= 6
    for folder in (root / "feedback", course["exchange"], home):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".html", ".ipynb"):
                text = html.unescape(path.read_text(encoding="utf-8", errors="replace"))
                assert not [s for s in secrets if s in text], path


@pytest.fixture
def formgrader(course):
    """nbgrader's formgrader, served by JupyterLab from the course, on a free local port."""
    with lab_server(course["root"]) as url:
        yield url


@pytest.mark.slow
@pytest.mark.browser
def test_formgrader_manual_grade_after_our_autograde(course, formgrader):
    """A TA grades carol's written answer in formgrader (in Chromium), after this grader's
    autograde; the feedback page then shows the grade and the comment, and reaches carol."""
    import json
    import time
    import urllib.request

    from nbgrader.api import Gradebook

    listing = json.load(urllib.request.urlopen(
        f"{formgrader}/formgrader/api/submissions/{ASSIGNMENT}", timeout=30))
    assert {s["student"]: s["autograded"] for s in listing} == {
        "alice": True, "bob": True, "carol": True}  # none "needs autograding"
    comment = "Good: saturation, and why clipping cannot help."
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{formgrader}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK}")
        link = page.wait_for_selector("a.name-shown:text('carol')", state="attached",
                                      timeout=60000)
        page.goto(formgrader + link.get_attribute("href"))
        page.wait_for_selector("#written_vanishing", timeout=60000)
        # formgrader binds its inputs to the gradebook only once its grades and comments have
        # been fetched; a value typed before that is overwritten and never saved.
        page.wait_for_function("window.formgrader && formgrader.grades && formgrader.grades"
                               ".loaded && formgrader.comments && formgrader.comments.loaded",
                               timeout=60000)
        # the notebook rendered: the four functions and the written answer
        assert page.locator("text=Student's answer").count() == 5
        page.fill("#written_vanishing", "1.5")
        page.press("#written_vanishing", "Tab")
        page.fill("#written_vanishing-comment", comment)
        page.press("#written_vanishing-comment", "Tab")
        deadline, saved = time.monotonic() + 30, None
        while time.monotonic() < deadline and saved != (1.5, comment):
            time.sleep(0.5)
            with Gradebook(f"sqlite:///{course['root']}/gradebook.db") as gb:
                grade = gb.find_grade("written_vanishing", NOTEBOOK, ASSIGNMENT, "carol")
                note = gb.find_comment("written_vanishing", NOTEBOOK, ASSIGNMENT, "carol")
                saved = (grade.manual_score, note.manual_comment)
    assert saved == (1.5, comment)

    root = course["root"]
    run = subprocess.run([sys.executable, "-m", "autograder", "feedback", "--course", str(root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    nbgrader(root, "release_feedback", ASSIGNMENT)
    home = course["homes"]["carol"]
    nbgrader(home, "fetch_feedback", ASSIGNMENT, "--course", "rnn-class", "--student", "carol")
    [page_file] = list((home / ASSIGNMENT / "feedback").rglob("*.html"))
    text = html.unescape(page_file.read_text(encoding="utf-8"))
    assert comment in text and "Graded by a person: <b>1.5 / 2</b>" in text
    assert not [s for s in hidden_lines() if s in text]
