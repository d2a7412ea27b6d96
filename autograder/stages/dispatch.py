"""Stage *dispatch*: one job per (student, assignment, notebook), graded on a local process
pool or a Dask cluster, each finished result written at once (atomically) so that a killed
run resumes where it stopped (``--resume``, which keeps a result only while its notebook and
the files beside it hash the same).

A job is a plain dict and its result JSON-able, so the same call runs on a pool and on a
Dask worker; on Dask each job carries its files' bytes (`stages.payload`), since a worker on
another machine sees neither SUBMISSIONS nor the grader's temporary folders.
"""

import ctypes
import hashlib
import json
import os
import signal
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial

from tqdm import tqdm

from ..io import atomic_write, remove_stale_temporaries
from .course import STATE_KEY
from .inputs.common import Details
from .payload import content_hash, grade_packed, pack

STATE = ".autograder"


def job_key(student, assignment, notebook):
    return hashlib.sha256(json.dumps([student, assignment, notebook]).encode()).hexdigest()[:32]


def feedback_path(out, res):
    return out / "feedback" / res["student"] / res["assignment"] / f"{res['notebook']}.html"


def digest(plans, settings, mode, plugin):
    """What a saved result depends on besides its notebook: a --resume keeps a result only
    when this is unchanged."""
    h = hashlib.sha256()
    for a in sorted(plans):
        for nb in sorted(plans[a]):
            h.update(json.dumps([a, nb, [c.source for c in plans[a][nb].cells]]).encode())
    h.update(json.dumps([settings.timeout, settings.memory, settings.disk, mode,
                         plugin]).encode())
    return h.hexdigest()


def make_jobs(run):
    """The jobs still to grade, and the results a --resume keeps ({key: result})."""
    s = run.settings
    state = s.out / STATE / "results"
    state.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(s.out)  # a killed run's half-written pages
    jobs, done = [], {}
    details = getattr(run.found, "details", {})
    for (student, a, nb), (path, folder, skipped) in sorted(run.found.table.items()):
        key = job_key(student, a, nb)
        job = {"key": key, "student": student, "assignment": a, "notebook": nb,
               "plan": run.plans[a][nb], "path": path, "dir": folder,
               "skipped": skipped, "timeout": s.timeout, "memory": s.memory, "disk": s.disk,
               "sandbox": run.mode, "plugin": run.plugin_name, "course": s.in_course,
               **details.get((student, a, nb), Details()).job()}
        job["content"] = content_hash(job)
        saved = _saved(state / f"{key}.json", run.digest, job["content"]) if s.resume else None
        if saved is not None:
            done[key] = saved
            continue
        jobs.append(job)
    if not s.resume:
        for stale in state.glob("*.json"):
            stale.unlink()
    return jobs, done


def _saved(path, want, content):
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if (saved.get("digest"), saved.get("content")) == (want, content) else None


def dispatch(run, grade_notebook):
    """Grade every job with `grade_notebook(job) -> result`; fills run.results."""
    s = run.settings
    jobs, done = make_jobs(run)
    run.jobs = jobs
    state = s.out / STATE / "results"
    counts = Counter(r["status"] for res in done.values() for r in res["rows"])
    bar = tqdm(total=len(jobs) + len(done), initial=len(done), unit="nb",
               disable=not s.progress, desc="grading")

    def collect(job, res):
        res["digest"], res["key"], res["content"] = run.digest, job["key"], job["content"]
        atomic_write(feedback_path(s.out, res), res["feedback"])
        saved = {k: v for k, v in res.items() if k != STATE_KEY}  # no hidden tests in OUT
        atomic_write(state / f"{job['key']}.json", json.dumps(saved, ensure_ascii=False))
        done[job["key"]] = res
        counts.update(r["status"] for r in res["rows"])
        bar.set_postfix({k: counts[k] for k in ("ok", "failed", "timeout", "crashed")})
        bar.update()

    if jobs and s.scheduler:
        _run_dask(s.scheduler, jobs, collect, grade_notebook)
    elif jobs:
        _run_local(s.workers or os.cpu_count() or 1, jobs, collect, grade_notebook)
    bar.close()
    for res in done.values():  # results kept by --resume: make sure their page exists
        if not feedback_path(s.out, res).is_file():
            atomic_write(feedback_path(s.out, res), res["feedback"])
    run.results = sorted(done.values(),
                         key=lambda r: (r["student"], r["assignment"], r["notebook"]))


def _die_with_parent():
    # Pool workers (and through --die-with-parent their sandboxes) must not outlive a
    # grader that is killed with SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_local(workers, jobs, collect, grade_notebook):
    # The pool hands the jobs out in order, so nothing follows the last one: its worker
    # starts no spare sandbox (a Python and IPython start-up on cores the other workers
    # keep busy). Which worker takes which earlier job is not known in advance, and a
    # worker without a spare would start its next notebook cold.
    jobs = [dict(job, spare=i < len(jobs) - 1) for i, job in enumerate(jobs)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent) as pool:
        futures = {pool.submit(grade_notebook, job): job for job in jobs}
        for fut in as_completed(futures):
            collect(futures[fut], fut.result())


def _run_dask(address, jobs, collect, grade_notebook):
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    with Client(address) as client:
        futures = client.map(partial(grade_packed, grade_notebook=grade_notebook),
                             [pack(j) for j in jobs], key=[f"grade-{j['key']}" for j in jobs],
                             pure=False)
        by_key = {f.key: j for f, j in zip(futures, jobs, strict=True)}
        for fut in dask_completed(futures):
            collect(by_key[fut.key], fut.result())
