"""The adversarial corpus, graded in one run (issue 6): every expected score and status, no
hidden-test line anywhere under OUT, no process left behind, a SIGKILL mid-run followed by
--resume that ends with identical results, and the same rows through a Dask LocalCluster.

Built from the real assignments in solutions/ (up to two that have a release in exercises/)
plus a small nbgrader course made here. Kept as a single test so that pytest-xdist runs the
expensive grading once.
"""

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import autograder_corpus as corpus
import pytest

from autograder import tempdirs
from autograder.sandbox import sandbox_mode
from autograder.stages.feedback import scan_tree
from autograder.stages.plan import load_plans

pytestmark = [pytest.mark.xdist_group("grader-corpus"), pytest.mark.sandbox]


ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = "8"
MEMORY = "1024"


def real_assignments(limit=2, prefer=("02_rnn", "05_lstm")):
    found = []
    names = sorted((ROOT / "solutions").glob("*"), key=lambda p: (p.name not in prefer, p.name))
    for src in names:
        rel = ROOT / "exercises" / src.name
        if src.is_dir() and any(src.glob("*.ipynb")) and rel.is_dir():
            found.append((src.name, src, rel))
    return found[:limit]


# This test's graders run their sandboxes under uids of their own (AUTOGRADER_BASE_UID), so
# that "no process left behind" counts only theirs while other grader tests run beside it.
CORPUS_BASE_UID = 40_000_000
ENV = dict(os.environ, AUTOGRADER_BASE_UID=str(CORPUS_BASE_UID))


def grade(subs, out, source, *extra, env=ENV):
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
           "--source", str(source), "--timeout", TIMEOUT, "--memory", MEMORY, "--quiet", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)


def read_rows(out):
    with open(Path(out) / "grades.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def by_key(rows, student, assignment):
    """The first row of a student's assignment."""
    return next(r for r in rows if (r["student"], r["assignment"]) == (student, assignment))


def sandbox_processes():
    """Pids of processes running as one of the grader's private uids."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid = int(next(line for line in text.splitlines() if line.startswith("Uid:")).split()[1])
        if CORPUS_BASE_UID <= uid < CORPUS_BASE_UID + 5_000_000:
            pids.append(int(status.parent.name))
    return pids


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    source = root / "source"
    source.mkdir()
    # The course's configuration names this course's plugin, as nbgrader_config.py does.
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.Autograder.plugin = 'course.plugin:RnnCourse'\n")
    toy_src = corpus.write_toy_source(root / "toy") / "ps1"
    threats_src = corpus.write_threats_source(root / "threats")
    assignments = {}
    for name, src in (("ps1", toy_src), ("threats", threats_src)):
        shutil.copytree(src, source / name)
        assignments[name] = (src, corpus.release_folder(src, root / "release" / name))
    for name, src, rel in real_assignments():
        shutil.copytree(src, source / name)
        assignments[name] = (src, rel)
    subs = root / "subs"
    written = set()
    for name, dirs in assignments.items():
        kinds = corpus.VARIANTS if name in ("ps1", "threats") else [
            k for k in corpus.VARIANTS if k != "loop"]
        if sandbox_mode() != "bwrap":
            # Without namespaces (and as root) nothing bounds a fork bomb's process count.
            kinds = [k for k in kinds if k != "forkbomb"]
        if name == "threats":  # the named attacks on plain tests (docs/grader.md)
            kinds = kinds + corpus.ATTACKS
        elif name == "02_rnn":  # ... and a few on protocol cells
            kinds = kinds + ["cheat_traceback", "run_cell", "worker_module"]
        corpus.write_corpus(subs, {name: dirs}, kinds)
        written.update((corpus.STUDENTS[k], name) for k in kinds)
    hostile = {a: assignments[a] for a in ("ps1", "02_rnn") if a in assignments}
    corpus.write_hostile(subs, hostile)
    written.update((corpus.STUDENTS[k], a) for k in corpus.HOSTILE for a in hostile)
    # A student who handed in nothing at all still gets a row for every question.
    (subs / "Ana María sin entrega").mkdir()
    return root, source, subs, assignments, written


@pytest.mark.slow
def test_corpus_one_run_resume_and_dask(course):
    root, source, subs, assignments, written = course
    assert len(assignments) >= 3
    before = set(sandbox_processes())
    out = root / "out"
    t0 = time.monotonic()
    run = grade(subs, out, source, "--workers", "2")
    elapsed = time.monotonic() - t0
    assert run.returncode == 0, run.stderr
    rows = read_rows(out)
    plans = load_plans(source)

    # Every student x assignment x notebook x question appears exactly once.
    students = sorted(p.name for p in subs.iterdir())
    assert corpus.STUDENTS["linked_student"] in students  # a link in place of a folder
    keys = [(r["student"], r["assignment"], r["notebook"], r["question"]) for r in rows]
    assert len(keys) == len(set(keys))
    want = {(s, a, nb, q.grade_id) for s in students for a in plans for nb in plans[a]
            for q in plans[a][nb].questions}
    assert set(keys) == want

    by_student = {v: k for k, v in corpus.STUDENTS.items()}
    for a, notebooks in plans.items():
        for nb, plan in notebooks.items():
            auto = [q for q in plan.questions if q.kind == "auto"]
            for s in students:
                kind = by_student.get(s, "missing")
                if (s, a) not in written and kind != "linked_student":
                    kind = "missing"
                got = {r["question"]: r for r in rows
                       if (r["student"], r["assignment"], r["notebook"]) == (s, a, nb)}
                if kind == "loop" and a != "ps1":
                    continue
                for i, q in enumerate(auto):
                    rule, status = corpus.expected_status(kind, i, plan.release[q.grade_id])
                    row = got[q.grade_id]
                    where = f"{kind} {a}/{nb}/{q.grade_id}: {row}"
                    if status is not None:
                        assert row["status"] == status, where
                    if rule == "max":
                        assert float(row["score"]) == q.points, where
                    elif rule == "zero":
                        assert float(row["score"]) == 0.0, where
                for q in plan.questions:
                    if q.kind == "manual":
                        row = got[q.grade_id]
                        if kind in ("missing", "corrupt") or kind in corpus.HOSTILE and \
                                corpus.HOSTILE_STATUS[kind][1] == "missing":
                            assert row["status"] in ("missing", "invalid")
                        else:
                            # left for a person, or (as released) 0 at once, as nbgrader
                            assert (row["status"], row["score"]) in (("manual", ""),
                                                                     ("unanswered", "0.0"))
                if kind == "wrong":
                    total = sum(float(got[q.grade_id]["score"]) for q in auto)
                    assert total < sum(q.points for q in auto)
    # Students who did everything right in one notebook earn all of its points.
    full = [r for r in rows if r["student"] == corpus.STUDENTS["full"] and r["kind"] == "auto"]
    assert full and all(r["status"] == "ok" for r in full)

    # Feedback for every student x assignment x notebook, and nothing hidden anywhere in OUT.
    for s in students:
        for a in plans:
            for nb in plans[a]:
                assert (out / "feedback" / s / a / f"{nb}.html").is_file()
    secrets = sorted({x for nbs in plans.values() for p in nbs.values() for x in p.secrets})
    assert len(secrets) > 10
    assert scan_tree(out, secrets) == {}
    raw_hidden = [line.strip() for nbs in plans.values() for p in nbs.values()
                  for c in p.cells if c.cell_type == "code"
                  for line in c.source.splitlines() if line.strip().startswith("_c = case(")]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "BEGIN HIDDEN TESTS" not in text, path
            for line in raw_hidden:
                assert line not in text, (path, line)
    echo = (out / "feedback" / corpus.STUDENTS["echo"] / "ps1" / "part1.html").read_text()
    assert "ECHO" in echo  # the hook did print; what it printed of the tests is gone
    for a in plans:  # the audit hook that would have copied every compiled test: refused
        assert "sys.addaudithook (refused)" in by_key(rows, corpus.STUDENTS["echo"], a)["note"]
    assert not set(sandbox_processes()) - before

    # A hidden line printed letter-spaced and upper-cased: scrubbed from the page.
    for a in plans:
        for page in (out / "feedback" / corpus.STUDENTS["spaced"] / a).glob("*.html"):
            assert "[line removed" in page.read_text(encoding="utf-8"), page
    # Emptied test cells were put back and say so.
    emptied = [r for r in rows if r["student"] == corpus.STUDENTS["emptied"]
               and r["status"] != "manual"]
    assert any(r["restored"] == "emptied" for r in emptied)

    # The named attacks: recorded where the worker sees them; never a point (above).
    for kind, word in corpus.ATTACK_NOTE.items():
        note = by_key(rows, corpus.STUDENTS[kind], "threats")["note"]
        assert word is None or word in note, (kind, note)
    # Hostile files: named for their student, never followed, the rest of the class graded.
    for a in ("ps1", "02_rnn"):
        for kind, word in (("link_solution", "symbolic link"), ("junk_beside", "FIFO"),
                           ("linked_folder", "symbolic link"),
                           ("linked_student", "symbolic link")):
            if a in plans:
                note = by_key(rows, corpus.STUDENTS[kind], a)["note"]
                assert word in note, (kind, a, note)
    junk = by_key(rows, corpus.STUDENTS["junk_beside"], "ps1")["note"]
    assert "data.lnk (symbolic link)" in junk and "pipe (FIFO)" in junk and "up (" in junk
    solution_lines = {line.strip() for nbs in plans.values() for p in nbs.values()
                      for c in p.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                      for line in c.source.splitlines() if len(line.strip()) > 30}
    for path in (out / "feedback" / corpus.STUDENTS["link_solution"]).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text
        assert not [line for line in solution_lines if line in text], path

    # SIGKILL mid-run, then --resume: identical results and feedback (on the students whose
    # notebooks finish quickly, to keep the test short).
    quick = root / "subs_quick"
    # (notebooks whose run time decides where a timeout falls, such as "reader", which walks
    # the whole filesystem, would differ between the two runs under load: not here)
    for kind in ("full", "blank", "wrong", "numpy", "emptied", "echo", "spaced", "crash",
                 "corrupt", "missing"):
        shutil.copytree(subs / corpus.STUDENTS[kind], quick / corpus.STUDENTS[kind])
    names = {p.name for p in quick.iterdir()}
    out2 = root / "out2"
    # A TMPDIR of its own: in the shared one, another test's grading run (a parallel pytest
    # worker) would clean up the killed run's folders before this test could look for them.
    private_tmp = root / "tmp_resume"
    private_tmp.mkdir()
    private_env = dict(ENV, TMPDIR=str(private_tmp))
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(quick), "--out",
                             str(out2), "--source", str(source), "--timeout", TIMEOUT,
                             "--memory", MEMORY, "--quiet", "--workers", "2"], cwd=ROOT,
                            env=private_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = out2 / ".autograder" / "results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(state.glob("*.json"))) < 4:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(list(state.glob("*.json")))
    assert 4 <= partial < len({(r["student"], r["assignment"], r["notebook"]) for r in rows
                               if r["student"] in names})
    # Pool workers die with their parent (PR_SET_PDEATHSIG), and their sandboxes with them;
    # on a loaded machine that takes more than a second (one was still there after 1 s at
    # load 4), so wait for it rather than for a fixed time.
    deadline = time.monotonic() + 30
    while set(sandbox_processes()) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(sandbox_processes()) - before
    # The killed run's private folders stay in TMPDIR until the next run removes them.
    left = {p for p in private_tmp.glob("autograder-*")
            if tempdirs.NAME.match(p.name) and tempdirs._start_time(
                int(tempdirs.NAME.match(p.name).group(1))) is None}
    assert left  # at least the killed run's staging folder
    resumed = grade(quick, out2, source, "--workers", "2", "--resume", env=private_env)
    assert resumed.returncode == 0, resumed.stderr
    assert not [p for p in left if p.exists()]
    assert read_rows(out2) == [r for r in rows if r["student"] in names]
    for path in (out2 / "feedback").rglob("*.html"):
        assert path.read_bytes() == (out / path.relative_to(out2)).read_bytes(), path
    n_notebooks = sum(len(v) for v in plans.values())
    assert len(list((out2 / "feedback").rglob("*.html"))) == n_notebooks * len(names)
    assert not list(out2.rglob("*.tmp"))

    # The same work on a Dask cluster (two worker processes) whose workers see nothing of
    # this machine's /tmp: neither the submissions (here a zip), nor the grader's unpacked
    # copy of it, nor the source. Each task carries its files; the same rows come back.
    subset = root / "subs_dask"
    for kind in ("full", "wrong", "corrupt", "emptied"):
        shutil.copytree(subs / corpus.STUDENTS[kind], subset / corpus.STUDENTS[kind])
    subset_zip = shutil.make_archive(str(root / "subs_dask"), "zip", subset)
    with corpus.HiddenCluster(tempfile.gettempdir(), subset_zip, source) as cluster:
        assert cluster.seen == ["hidden", "hidden"]
        dask_run = grade(subset_zip, root / "out_dask", source, "--scheduler",
                         cluster.address)
    assert dask_run.returncode == 0, dask_run.stderr
    dask_rows = read_rows(root / "out_dask")
    names = {p.name for p in subset.iterdir()}
    assert dask_rows == [r for r in rows if r["student"] in names]
    print(f"corpus: {len(students)} students, {len(rows)} rows graded in {elapsed:.1f} s")
