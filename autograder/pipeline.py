"""The grader as a declared pipeline of named stages (in the spirit of nbgrader's
preprocessor lists and otter-grader's plugin events).

A run goes through the CLASS_STAGES in order; `dispatch` sends every notebook through the
NOTEBOOK_STAGES, in a pool worker or on a Dask worker. Each stage is a function of one small
module of `autograder.stages` with one job, reading and filling one shared state object
(`ClassRun` here, `autograder.notebook.NotebookRun` per notebook). Where later work plugs in:
input adapters for LMS downloads (discover), restoring changed cells (assemble), a pool of
pre-started sandboxes (execute), a Gradescope runner (dispatch), an nbgrader writer
(export). What is special to a course comes from its plugin (`autograder.plugins`).
"""

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import plugins, sandbox, tempdirs
from .io import GraderError
from .notebook import NotebookRun
from .settings import Settings
from .stages import assemble, compare, course, discover, dispatch, execute, export, feedback, plan
from .stages import score as score_stage

NOTEBOOK_STAGES = [
    ("read", assemble.read),  # the submitted file, regular files only; missing/invalid
    ("assemble", assemble.assemble),  # the cells to run, locked and test cells from the source
    ("execute", execute.execute),  # every cell in a fresh sandbox
    ("score", score_stage.score),  # nbgrader's verdict per question, from the worker's record
    ("compare", compare.compare),  # the course plugin's outside check of passing tests
    ("feedback", feedback.feedback),  # the rows and the scrubbed feedback page
    ("autograded", course.autograded),  # in a named course: the notebook for formgrader
]


def grade_notebook(job):
    """Grade one (student, assignment, notebook): the NOTEBOOK_STAGES over `job` (see
    `stages.dispatch.make_jobs`). Returns a JSON-able result."""
    run = NotebookRun(job, job["plan"], plugins.load(job.get("plugin")))
    timings = {}
    for name, stage in NOTEBOOK_STAGES:
        start = time.perf_counter()
        stage(run)
        timings[name] = time.perf_counter() - start
    return dict(run.result(), timings=timings)


@dataclass
class ClassRun:
    """The state of a whole run, filled stage by stage."""
    settings: Settings
    plugin_name: str = ""
    plugin: object = None
    mode: str = "bwrap"  # the sandbox
    warnings: list = field(default_factory=list)
    plans: dict = None  # assignment -> notebook -> NotebookPlan
    secrets: list = field(default_factory=list)  # hidden-test lines that must never reach OUT
    digest: str = ""
    found: object = None  # stages.discover.Discovered
    staging: str = ""  # where zips and flat inputs are unpacked
    jobs: list = field(default_factory=list)
    results: list = field(default_factory=list)
    rows: list = field(default_factory=list)


def _plan(run):
    s = run.settings
    run.plugin_name = s.plugin_name()
    run.plugin = plugins.load(run.plugin_name)
    try:
        run.plans = plan.load_plans(s.source, s.assignments, run.plugin)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(str(e)) from e
    run.plugin.check([q for nbs in run.plans.values() for p in nbs.values()
                      for q in p.questions])
    run.secrets = sorted({x for nbs in run.plans.values() for p in nbs.values()
                          for x in p.secrets})


def _sandbox(run):
    """Sandboxed or refused (see autograder.sandbox)."""
    s = run.settings
    run.mode = "none" if s.no_sandbox else sandbox.requested_mode()
    try:
        sandbox.check_mode(run.mode, [s.source.resolve(), s.submissions.resolve()],
                           run.plugin.mounts)
    except sandbox.SandboxUnavailable as e:
        raise GraderError(f"refusing to run student code: {e}") from e
    run.warnings = [w for w in [sandbox.warning(run.mode)] if w]
    for w in run.warnings:  # even with --quiet
        print(f"autograder: WARNING: {w}", file=sys.stderr)
    if run.mode in sandbox.UNCONTAINED:
        s.out.mkdir(parents=True, exist_ok=True)
        s.out.chmod(0o700)  # other students' feedback is no business of a student's code


def _discover(run):
    s = run.settings
    try:
        run.found = discover.discover(s.submissions, run.plans, run.staging, s.roster,
                                      s.config)
    except (OSError, discover.SubmissionsError) as e:
        raise GraderError(f"cannot read {s.submissions}: {e}") from e
    for student in getattr(run.found, "unknown", []):
        print(f"autograder: {student!r} handed in work but is not on the roster",
              file=sys.stderr)
    for name in run.found.unmatched:
        print(f"autograder: skipped {name!r}: fits no naming rule", file=sys.stderr)
    for name, why in run.found.rejected:
        print(f"autograder: skipped {name!r}: {why}", file=sys.stderr)
    if run.settings.assignments is None:
        _only_assignments_set(run)


def _only_assignments_set(run):
    """Grade the assignments somebody submitted (or the configuration names), not every
    folder of the source: nobody gets 'missing' zeros for assignments that were not set."""
    keep = {a for (_, a, _), entry in run.found.table.items() if entry[0] is not None}
    keep |= set(run.settings.named_assignments()) & set(run.plans)
    run.plans = {a: nbs for a, nbs in run.plans.items() if a in keep}
    run.found.table = {k: v for k, v in run.found.table.items() if k[1] in keep}
    run.secrets = sorted({x for nbs in run.plans.values() for p in nbs.values()
                          for x in p.secrets})


def _dispatch(run):
    run.digest = dispatch.digest(run.plans, run.settings, run.mode, run.plugin_name)
    dispatch.dispatch(run, grade_notebook)


CLASS_STAGES = [
    ("plan", _plan),  # the source notebooks, read with the course's plugin
    ("sandbox", _sandbox),  # sandboxed or refused
    ("discover", _discover),  # one job per (student, assignment, notebook) in SUBMISSIONS
    ("dispatch", _dispatch),  # every job through NOTEBOOK_STAGES, results saved as they come
    ("export", export.export),  # grades.csv, results.json, the leak scan, the gradebook
]


def grade(settings):
    """Grade a class; returns the rows. Raises GraderError when it cannot do its job."""
    run = ClassRun(settings)
    tempdirs.remove_stale()  # what a killed run left behind
    run.staging = tempdirs.make("staging")
    timings = {}
    try:
        for name, stage in CLASS_STAGES:
            start = time.perf_counter()
            stage(run)
            timings[name] = time.perf_counter() - start
    finally:
        shutil.rmtree(run.staging, ignore_errors=True)
    if settings.progress:
        print(export.summary_table(run.rows))
        for w in run.warnings:
            print(f"WARNING: {w}")
    if settings.timings:
        print(timing_table(timings, run.results), file=sys.stderr)
    return run.rows


def timing_table(timings, results):
    """Wall seconds per class stage, and per notebook stage summed over the notebooks (in
    the pool's processes, so their sum may exceed the dispatch stage's wall time)."""
    lines = ["stage            seconds"]
    lines += [f"{name:16s} {secs:8.2f}" for name, secs in timings.items()]
    summed = {}
    for res in results:
        for name, secs in (res.get("timings") or {}).items():
            summed[name] = summed.get(name, 0.0) + secs
    lines += [f"  {name:14s} {secs:8.2f}  (sum over {len(results)} notebooks)"
              for name, secs in summed.items()]
    return "\n".join(lines)


def course_feedback(root, assignments=None):
    """`python -m autograder feedback`: the feedback pages of a course re-rendered from its
    autograded notebooks and its gradebook (after manual grading), scanned for hidden text.
    Returns the pages written."""
    from nbgrader.api import Gradebook

    settings = Settings(course=root, assignments=assignments)
    plugin = plugins.load(settings.plugin_name())
    plans = plan.load_plans(settings.source, assignments, plugin)
    with Gradebook(settings.gradebook_url()) as gb:
        notebooks = {(s.student.id, s.assignment.name, nb.name) for a in plans
                     for s in gb.assignment_submissions(a) for nb in s.notebooks
                     if nb.name in plans[a]}
    cd = course.coursedir(settings)
    pages = course.write_feedback(cd, settings, plans, notebooks)
    secrets = sorted({x for nbs in plans.values() for p in nbs.values() for x in p.secrets})
    leaks = {str(p): feedback.scan_text(p.read_text(encoding="utf-8"), secrets) for p in pages}
    leaks = {k: v for k, v in leaks.items() if v}
    if leaks:
        for path in leaks:
            Path(path).write_text(feedback.REDACTED + "\n")
        raise GraderError("hidden-test text reached feedback and was redacted from: "
                          + ", ".join(sorted(leaks)))
    return pages


def run(submissions, out, **options):
    """`grade` with the settings as keyword arguments (see `autograder.settings.Settings`)."""
    return grade(Settings(submissions, out, **options))
