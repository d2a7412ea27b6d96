"""What a grading run is told: the command line's options and the course's configuration.

The course's configuration is its ``nbgrader_config.py``, read with traitlets as nbgrader reads
it, in the course root: ``--course``, else the folder above ``--source``, else the current
folder. From nbgrader's own section come the defaults of ``--source`` and SUBMISSIONS
(``CourseDirectory.source_directory``, ``submitted_directory``) and an assignment to grade
(``CourseDirectory.assignment_id``); the grader's section is ``c.Autograder``: ``plugin`` (see
`autograder.plugins`) and ``assignments`` (a list).
"""

from dataclasses import dataclass
from pathlib import Path

from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

from .io import GraderError


@dataclass
class Settings:
    submissions: Path = None  # None: the course's submitted/ folder
    out: Path = None
    source: Path = None  # None: the course's source folder
    assignments: list = None  # None: those submitted, and those the configuration names
    timeout: float = 30.0  # seconds per cell; a notebook gets ten times that
    memory: int = 2048  # MB of address space per student kernel
    disk: int = 256  # MB that a notebook may write (in the sandbox)
    workers: int = None  # None: one per core
    scheduler: str = None  # a dask.distributed scheduler address
    gradebook: str = None  # an nbgrader gradebook URL to record the grades in
    resume: bool = False
    progress: bool = True
    timings: bool = False  # print the time each stage took
    no_sandbox: bool = False
    plugin: str = None  # "module:Class"; None: the course's configuration says
    course: Path = None  # the course root (see the module's docstring)
    roster: Path = None  # a class list (CSV): its students who handed in nothing are missing

    def __post_init__(self):
        #: whether the instructor named the course root: then the grader also writes
        #: nbgrader's folders and gradebook there, as `nbgrader autograde` does
        self.in_course = self.course is not None
        if self.course is None:
            self.course = Path(self.source).resolve().parent if self.source else Path.cwd()
        self.course = Path(self.course).resolve()
        self.config = course_config(self.course)
        folders = self.config.get("CourseDirectory", {})
        root = Path(folders.get("root", self.course))
        if self.source is None:
            self.source = root / folders.get("source_directory", "source")
        if self.submissions is None:
            self.submissions = root / folders.get("submitted_directory", "submitted")
        self.source, self.submissions = Path(self.source), Path(self.submissions)
        self.out = Path(self.out) if self.out is not None else None

    def plugin_name(self):
        """The plugin named on the command line, else in the course's nbgrader_config.py."""
        if self.plugin is not None:
            return self.plugin
        return str(self.config.get("Autograder", {}).get("plugin", "") or "")

    def gradebook_url(self):
        """The gradebook a run in a named course records into: --gradebook, else the
        course's (CourseDirectory.db_url, nbgrader's default gradebook.db in the root)."""
        if self.gradebook:
            return self.gradebook
        root = Path(self.config.get("CourseDirectory", {}).get("root", self.course))
        return self.config.get("CourseDirectory", {}).get("db_url") or \
            f"sqlite:///{root / 'gradebook.db'}"

    def named_assignments(self):
        """The assignments the configuration names (graded even when nobody submitted)."""
        names = list(self.config.get("Autograder", {}).get("assignments", []) or [])
        single = self.config.get("CourseDirectory", {}).get("assignment_id", "")
        return names + ([single] if single else [])


def course_config(root):
    """The course's nbgrader_config.py as a traitlets Config ({} when there is none)."""
    path = Path(root) / "nbgrader_config.py"
    if not path.is_file():
        return {}
    loader = PyFileConfigLoader(path.name, path=str(path.parent))
    try:
        return loader.load_config()
    except ConfigFileNotFound:
        return {}
    except Exception as e:  # the file is Python: any error in it is the course's to fix
        raise GraderError(f"cannot read {path}: {type(e).__name__}: {e}") from e
