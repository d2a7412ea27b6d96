"""`python -m autograder grade`: plan, dispatch, collect, write OUT atomically, resume."""

import csv
import ctypes
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from . import sandbox
from .feedback import REDACTED, scan_tree
from .grade import grade_job
from .inputs import SubmissionsError, discover
from .plan import load_plans

COLUMNS = ["student", "assignment", "notebook", "question", "score", "max_score", "status",
           "note"]
STATE = ".autograder"


class GraderError(Exception):
    """The grader could not do its job (exit code 2)."""


def atomic_write(path, data):
    """Write `data` (str or bytes) to `path` so that a kill leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def job_key(student, assignment, notebook):
    return hashlib.sha256(json.dumps([student, assignment, notebook]).encode()).hexdigest()[:32]


def _die_with_parent():
    # Pool workers (and through --die-with-parent their sandboxes) must not outlive a
    # grader that is killed with SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _settings_digest(plans, timeout, memory, mode="bwrap"):
    h = hashlib.sha256()
    for a in sorted(plans):
        for nb in sorted(plans[a]):
            plan = plans[a][nb]
            h.update(json.dumps([a, nb, [c.source for c in plan.cells]]).encode())
    h.update(json.dumps([timeout, memory, mode]).encode())
    return h.hexdigest()


def check_references(plans):
    """Fail early when a hidden test names a case the grader cannot compute."""
    names = {c[0] for nbs in plans.values() for p in nbs.values() for q in p.questions
             for c in q.cases}
    if not names:
        return
    try:
        from rnntools import cases

        import rnnlib.references as refs
    except ImportError as e:
        raise GraderError(f"hidden tests use case(...) but the references are missing: {e}") from e
    missing = sorted(n for n in names if n not in refs.REFERENCES or n not in cases.GENERATORS)
    if missing:
        raise GraderError(f"no reference or generator for the cases {', '.join(missing)}")


def _write_outputs(out, results, plans, warnings=()):
    rows = [r for res in results for r in res["rows"]]
    rows.sort(key=lambda r: (r["student"], r["assignment"], r["notebook"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "grades.csv", buf.getvalue())
    atomic_write(out / "results.json", json.dumps(gradescope(rows, warnings), indent=1,
                                                  ensure_ascii=False))
    return rows


def gradescope(rows, warnings=()):
    """The Gradescope autograder results format over every row."""
    tests = []
    for r in rows:
        tests.append({"name": f"{r['student']} / {r['assignment']} / {r['notebook']} / "
                              f"{r['question']}",
                      "score": None if r["score"] == "" else r["score"],
                      "max_score": r["max_score"], "visibility": "visible",
                      "output": r["status"] + (f": {r['note']}" if r.get("note") else ""),
                      "extra_data": {k: r[k] for k in ("student", "assignment", "notebook",
                                                       "question", "status")}})
    auto = [r for r in rows if r["score"] != ""]
    result = {"score": round(sum(float(r["score"]) for r in auto), 6), "tests": tests}
    if warnings:
        result["extra_data"] = {"warnings": list(warnings)}
    return result


def summary_table(rows):
    counts = Counter((r["assignment"], r["status"]) for r in rows)
    statuses = ["ok", "failed", "timeout", "memory", "crashed", "tampered", "invalid",
                "missing", "manual"]
    lines = ["assignment".ljust(24) + "".join(s.rjust(9) for s in statuses)]
    for a in sorted({r["assignment"] for r in rows}):
        lines.append(a.ljust(24) + "".join(str(counts[(a, s)]).rjust(9) for s in statuses))
    return "\n".join(lines)


def _sandbox(no_sandbox, private_paths):
    """The sandbox mode to grade in, or GraderError when student code could not run safely."""
    mode = "none" if no_sandbox else sandbox.requested_mode()
    try:
        sandbox.check_mode(mode, private_paths)
    except sandbox.SandboxUnavailable as e:
        raise GraderError(f"refusing to run student code: {e}") from e
    return mode


def run(submissions, out, source="solutions", assignments=None, timeout=30.0, memory=2048,
        workers=None, scheduler=None, gradebook=None, resume=False, progress=True,
        no_sandbox=False):
    """Grade everything; returns the rows. Raises GraderError when it cannot do its job."""
    out = Path(out)
    try:
        plans = load_plans(source, assignments)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(str(e)) from e
    check_references(plans)
    mode = _sandbox(no_sandbox, [Path(source).resolve(), Path(submissions).resolve()])
    warnings = [w for w in [sandbox.warning(mode)] if w]
    if mode == "none":
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)  # other students' feedback is no business of a student's code
    for w in warnings:  # even with --quiet
        print(f"autograder: WARNING: {w}", file=sys.stderr)
    digest = _settings_digest(plans, timeout, memory, mode)
    state = out / STATE / "results"
    state.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autograder-staging-") as staging:
        try:
            found = discover(submissions, plans, staging)
        except (OSError, SubmissionsError) as e:
            raise GraderError(f"cannot read {submissions}: {e}") from e
        table = found.table
        for name in found.unmatched:
            print(f"autograder: skipped {name!r}: fits no naming rule", file=sys.stderr)
        for name, why in found.rejected:
            print(f"autograder: skipped {name!r}: {why}", file=sys.stderr)
        jobs, done = [], {}
        for (student, a, nb), (path, folder, skipped) in sorted(table.items()):
            key = job_key(student, a, nb)
            file = state / f"{key}.json"
            if resume and file.is_file():
                try:
                    saved = json.loads(file.read_text(encoding="utf-8"))
                    if saved.get("digest") == digest:
                        done[key] = saved
                        continue
                except ValueError:
                    pass
            jobs.append({"key": key, "student": student, "assignment": a, "notebook": nb,
                         "plan": plans[a][nb], "path": path, "dir": folder,
                         "skipped": skipped, "timeout": timeout, "memory": memory,
                         "sandbox": mode})
        if not resume:
            for stale in state.glob("*.json"):
                stale.unlink()
        counts = Counter(r["status"] for res in done.values() for r in res["rows"])
        bar = tqdm(total=len(jobs) + len(done), initial=len(done), unit="nb",
                   disable=not progress, desc="grading")

        def collect(job, res):
            res["digest"] = digest
            res["key"] = job["key"]
            fb = out / "feedback" / res["student"] / res["assignment"] / f"{res['notebook']}.html"
            atomic_write(fb, res["feedback"])
            atomic_write(state / f"{job['key']}.json", json.dumps(res, ensure_ascii=False))
            done[job["key"]] = res
            counts.update(r["status"] for r in res["rows"])
            bar.set_postfix({s: counts[s] for s in ("ok", "failed", "timeout", "crashed")})
            bar.update()

        if scheduler:
            _run_dask(scheduler, jobs, collect)
        else:
            _run_local(workers or os.cpu_count() or 1, jobs, collect)
        bar.close()
    # Feedback of results graded before a --resume: make sure each file exists.
    for res in done.values():
        fb = out / "feedback" / res["student"] / res["assignment"] / f"{res['notebook']}.html"
        if not fb.is_file():
            atomic_write(fb, res["feedback"])
    results = sorted(done.values(), key=lambda r: (r["student"], r["assignment"], r["notebook"]))
    rows = _write_outputs(out, results, plans, warnings)
    secrets = sorted({s for nbs in plans.values() for p in nbs.values() for s in p.secrets})
    leaks = scan_tree(out, secrets)
    if leaks:
        for path in leaks:
            atomic_write(path, REDACTED + "\n")
        raise GraderError("hidden-test text reached OUT and was redacted from: "
                          + ", ".join(sorted(leaks)))
    if gradebook:
        from .gradebook import record
        record(gradebook, plans, rows)
    if progress:
        print(summary_table(rows))
        for w in warnings:
            print(f"WARNING: {w}")
    return rows


def _run_local(workers, jobs, collect):
    if not jobs:
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent) as pool:
        futures = {pool.submit(grade_job, job): job for job in jobs}
        for fut in as_completed(futures):
            collect(futures[fut], fut.result())


def _run_dask(address, jobs, collect):
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    if not jobs:
        return
    with Client(address) as client:
        futures = client.map(grade_job, jobs, key=[f"grade-{j['key']}" for j in jobs],
                             pure=False)
        by_key = {f.key: j for f, j in zip(futures, jobs, strict=True)}
        for fut in dask_completed(futures):
            collect(by_key[fut.key], fut.result())
