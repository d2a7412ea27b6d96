"""What a grading run is told: the command line's options and the course's configuration.

The course's configuration is its ``nbgrader_config.py`` (found in ``--course``, by default the
folder above ``--source``), read with traitlets as nbgrader reads it. The grader's own section
is ``c.Autograder``; today it holds ``plugin`` (see `autograder.plugins`).
"""

from dataclasses import dataclass
from pathlib import Path

from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

from .io import GraderError


@dataclass
class Settings:
    submissions: Path
    out: Path
    source: Path = Path("solutions")
    assignments: list = None  # None: every assignment in the source folder
    timeout: float = 30.0  # seconds per cell; a notebook gets ten times that
    memory: int = 2048  # MB of address space per student kernel
    workers: int = None  # None: one per core
    scheduler: str = None  # a dask.distributed scheduler address
    gradebook: str = None  # an nbgrader gradebook URL to record the grades in
    resume: bool = False
    progress: bool = True
    no_sandbox: bool = False
    plugin: str = None  # "module:Class"; None: the course's configuration says
    course: Path = None  # the course root; None: the folder above the source folder

    def __post_init__(self):
        self.submissions, self.out = Path(self.submissions), Path(self.out)
        self.source = Path(self.source)
        self.course = Path(self.course) if self.course else self.source.resolve().parent

    def plugin_name(self):
        """The plugin named on the command line, else in the course's nbgrader_config.py."""
        if self.plugin is not None:
            return self.plugin
        return str(course_config(self.course).get("Autograder", {}).get("plugin", "") or "")


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
