"""What the notebook stages share: the state of one notebook being graded."""

from dataclasses import dataclass, field


@dataclass
class NotebookRun:
    """One (student, assignment, notebook) on its way through the notebook stages.

    job: the dispatched job (student, assignment, notebook, path, dir, skipped, timeout,
        memory, sandbox, plugin); plan: its NotebookPlan; plugin: the course's plugin.
    A stage that decides the whole notebook at once (nothing submitted, an unreadable file)
    sets `status`, and the later stages only report it.
    """
    job: dict
    plan: object
    plugin: object
    status: str = ""  # "missing" or "invalid" when the notebook is decided as a whole
    note: str = ""  # why, for the student and the CSV
    nb: object = None  # the submitted notebook (nbformat)
    cells: list = field(default_factory=list)  # assembled cells (dicts), then executed
    restored: dict = field(default_factory=dict)  # grade_id -> why the source's cell was put back
    events: list = field(default_factory=list)  # what happened to the run as a whole
    verdicts: dict = field(default_factory=dict)  # grade_id -> [score, status, message]
    rows: list = field(default_factory=list)
    feedback: str = ""
    extra: dict = field(default_factory=dict)  # what the grader process needs besides

    @property
    def code(self):
        return [c for c in self.cells if c["cell_type"] == "code"]

    def result(self):
        """What travels back to the grader process (JSON-able)."""
        statuses = {r["status"] for r in self.rows}
        overall = self.status or next(
            (s for s in ("tampered", "crashed", "memory", "disk", "timeout", "failed")
             if s in statuses),
            "ok")
        return {"student": self.job["student"], "assignment": self.job["assignment"],
                "notebook": self.job["notebook"], "events": self.events, "rows": self.rows,
                "status": overall, "feedback": self.feedback, **self.extra}
