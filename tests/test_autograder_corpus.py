"""The adversarial corpus, graded in one run (issue 6): every expected score and status, no
hidden-test line anywhere under OUT, no process left behind, a SIGKILL mid-run followed by
--resume that ends with identical results, and the same rows through a Dask LocalCluster.

Built from the real assignments in solutions/ (up to two that have a release in exercises/)
plus a small nbgrader course made here. Kept as a single test so that pytest-xdist runs the
expensive grading once.
"""

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import autograder_corpus as corpus
import pytest

from autograder.feedback import REDACTED, scan_tree
from autograder.plan import load_plans
from autograder.sandbox import BASE_UID, sandbox_mode

# Every module that starts grader sandboxes runs on one xdist worker, one after another: the
# "no process left behind" check counts processes of the grader's private uids, and would
# otherwise count another module's live sandboxes as leaked.
pytestmark = pytest.mark.xdist_group("grader-sandboxes")


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


def grade(subs, out, source, *extra, env=None):
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
           "--source", str(source), "--timeout", TIMEOUT, "--memory", MEMORY, "--quiet", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)


def read_rows(out):
    with open(Path(out) / "grades.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sandbox_processes():
    """Pids of processes running as one of the grader's private uids."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid = int(next(line for line in text.splitlines() if line.startswith("Uid:")).split()[1])
        if BASE_UID <= uid < BASE_UID + 5_000_000:
            pids.append(int(status.parent.name))
    return pids


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    source = root / "source"
    source.mkdir()
    toy_src = corpus.write_toy_source(root / "toy") / "ps1"
    shutil.copytree(toy_src, source / "ps1")
    assignments = {"ps1": (toy_src, corpus.release_folder(toy_src, root / "release" / "ps1"))}
    for name, src, rel in real_assignments():
        shutil.copytree(src, source / name)
        assignments[name] = (src, rel)
    subs = root / "subs"
    for name, dirs in assignments.items():
        kinds = corpus.VARIANTS if name == "ps1" else [k for k in corpus.VARIANTS if k != "loop"]
        if sandbox_mode() != "bwrap":
            # Without namespaces (and as root) nothing bounds a fork bomb's process count.
            kinds = [k for k in kinds if k != "forkbomb"]
        corpus.write_corpus(subs, {name: dirs}, kinds)
    # A student who handed in nothing at all still gets a row for every question.
    (subs / "Ana María sin entrega").mkdir()
    return root, source, subs, assignments


@pytest.mark.slow
def test_corpus_one_run_resume_and_dask(course):
    root, source, subs, assignments = course
    assert len(assignments) >= 2
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
                        if kind in ("missing", "corrupt"):
                            assert row["status"] == kind.replace("corrupt", "invalid")
                        else:
                            assert (row["status"], row["score"]) == ("manual", "")
                if kind == "wrong":
                    total = sum(float(got[q.grade_id]["score"]) for q in auto)
                    assert total < sum(q.points for q in auto)
    # Students who did everything right in one notebook earn all of its points.
    full = [r for r in rows if r["student"] == corpus.STUDENTS["full"] and r["status"] != "manual"]
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
    for a in plans:
        if a != "ps1":  # the audit hook's copy of the hidden tests, printed later: scrubbed
            html_rnn = (out / "feedback" / corpus.STUDENTS["echo"] / a).glob("*.html")
            assert all(REDACTED in p.read_text() for p in html_rnn)
    assert not set(sandbox_processes()) - before

    # SIGKILL mid-run, then --resume: identical results and feedback (on the students whose
    # notebooks finish quickly, to keep the test short).
    quick = root / "subs_quick"
    for kind in ("full", "blank", "wrong", "numpy", "emptied", "echo", "reader", "crash",
                 "corrupt", "missing"):
        shutil.copytree(subs / corpus.STUDENTS[kind], quick / corpus.STUDENTS[kind])
    names = {p.name for p in quick.iterdir()}
    out2 = root / "out2"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(quick), "--out",
                             str(out2), "--source", str(source), "--timeout", TIMEOUT,
                             "--memory", MEMORY, "--quiet", "--workers", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out2 / ".autograder" / "results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(state.glob("*.json"))) < 4:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(list(state.glob("*.json")))
    assert 4 <= partial < len({(r["student"], r["assignment"], r["notebook"]) for r in rows
                               if r["student"] in names})
    time.sleep(1.0)  # pool workers die with their parent (PR_SET_PDEATHSIG)
    assert not set(sandbox_processes()) - before
    resumed = grade(quick, out2, source, "--workers", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert read_rows(out2) == [r for r in rows if r["student"] in names]
    for path in (out2 / "feedback").rglob("*.html"):
        assert path.read_bytes() == (out / path.relative_to(out2)).read_bytes(), path
    n_notebooks = sum(len(v) for v in plans.values())
    assert len(list((out2 / "feedback").rglob("*.html"))) == n_notebooks * len(names)
    assert not list(out2.rglob("*.tmp"))

    # The same work on a Dask cluster (two worker processes): the same rows.
    from dask.distributed import LocalCluster

    subset = root / "subs_dask"
    for kind in ("full", "wrong", "corrupt", "emptied"):
        shutil.copytree(subs / corpus.STUDENTS[kind], subset / corpus.STUDENTS[kind])
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                      dashboard_address=None) as cluster:
        dask_run = grade(subset, root / "out_dask", source, "--scheduler",
                         cluster.scheduler_address)
    assert dask_run.returncode == 0, dask_run.stderr
    dask_rows = read_rows(root / "out_dask")
    names = {p.name for p in subset.iterdir()}
    assert dask_rows == [r for r in rows if r["student"] in names]
    print(f"corpus: {len(students)} students, {len(rows)} rows graded in {elapsed:.1f} s")
