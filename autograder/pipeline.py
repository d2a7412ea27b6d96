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

import sys
import tempfile
from dataclasses import dataclass, field

from . import plugins, sandbox
from .io import GraderError
from .notebook import NotebookRun
from .settings import Settings
from .stages import assemble, compare, discover, dispatch, execute, export, feedback, plan
from .stages import score as score_stage

NOTEBOOK_STAGES = [
    ("read", assemble.read),  # the submitted file, regular files only; missing/invalid
    ("assemble", assemble.assemble),  # the cells to run, locked and test cells from the source
    ("execute", execute.execute),  # every cell in a fresh sandbox
    ("score", score_stage.score),  # nbgrader's verdict per question, from the worker's record
    ("compare", compare.compare),  # the course plugin's outside check of passing tests
    ("feedback", feedback.feedback),  # the rows and the scrubbed feedback page
]


def grade_notebook(job):
    """Grade one (student, assignment, notebook): the NOTEBOOK_STAGES over `job` (see
    `stages.dispatch.make_jobs`). Returns a JSON-able result."""
    run = NotebookRun(job, job["plan"], plugins.load(job.get("plugin")))
    for _, stage in NOTEBOOK_STAGES:
        stage(run)
    return run.result()


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
    if run.mode == "none":
        s.out.mkdir(parents=True, exist_ok=True)
        s.out.chmod(0o700)  # other students' feedback is no business of a student's code
    run.digest = dispatch.digest(run.plans, s, run.mode, run.plugin_name)


def _discover(run):
    try:
        run.found = discover.discover(run.settings.submissions, run.plans, run.staging)
    except (OSError, discover.SubmissionsError) as e:
        raise GraderError(f"cannot read {run.settings.submissions}: {e}") from e
    for name in run.found.unmatched:
        print(f"autograder: skipped {name!r}: fits no naming rule", file=sys.stderr)
    for name, why in run.found.rejected:
        print(f"autograder: skipped {name!r}: {why}", file=sys.stderr)


def _dispatch(run):
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
    with tempfile.TemporaryDirectory(prefix="autograder-staging-") as staging:
        run.staging = staging
        for _, stage in CLASS_STAGES:
            stage(run)
    if settings.progress:
        print(export.summary_table(run.rows))
        for w in run.warnings:
            print(f"WARNING: {w}")
    return run.rows


def run(submissions, out, **options):
    """`grade` with the settings as keyword arguments (see `autograder.settings.Settings`)."""
    return grade(Settings(submissions, out, **options))
