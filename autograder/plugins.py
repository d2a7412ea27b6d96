"""What a course may add to the grader, and how the grader finds it.

The grader itself knows no course: it grades any nbgrader course exactly as stock nbgrader
does (a test passes when it runs without error; nbgrader's partial credit). A course that
wants more names a plugin in its configuration (``c.Autograder.plugin = "module:Class"`` in
its ``nbgrader_config.py``, or ``--plugin``); the plugin is loaded by that name, never
imported by the grader's own code. In the spirit of otter-grader's plugins, it answers at
three moments:

* plan time: `inspect(source)` reads, from the instructors' source of a test cell, what to
  compare later (this course: the ``case(...)`` calls of its hidden tests);
* before grading: `check(questions)` fails early when something cannot be compared, and
  `mounts` names the packages the sandbox must show (read-only) to student code;
* after a test cell passed: `compare(data, outputs)` decides, outside the sandbox, whether
  what the cell displayed is right, as ``(passed, message)``;
* after a test cell with hidden lines failed: `explain(data, outputs)` may say why, in words
  that reveal no hidden input, seed or expected value (the grader otherwise says only "a
  hidden test failed").
"""

import importlib
from functools import lru_cache

from .io import GraderError


class Plugin:
    """The plugin of a course that has none: stock nbgrader's grading."""

    name = "none"
    #: Import names of packages mounted read-only into the sandbox.
    mounts = ()

    def inspect(self, source):
        """What to compare for the test cell with this (instructors') source, or None."""
        return None

    def check(self, questions):
        """Raise `GraderError` if a question's `inspect` data cannot be compared."""

    def compare(self, data, outputs):
        """(passed, message) for a passing test cell's outputs, given its `inspect` data."""
        return True, ""

    def explain(self, data, outputs):
        """A safe message for a failed test cell's outputs, or '' to say nothing more."""
        return ""


@lru_cache(maxsize=8)
def load(name):
    """The plugin named ``module:Class`` (or ``module``, whose ``Plugin`` is used); `Plugin()`
    for None or ''."""
    if not name:
        return Plugin()
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
        plugin = getattr(module, attr or "Plugin")()
    except (ImportError, AttributeError) as e:
        raise GraderError(f"cannot load the grader plugin {name!r}: {e}") from e
    if not isinstance(plugin, Plugin):
        raise GraderError(f"{name!r} is not an autograder.plugins.Plugin")
    return plugin
