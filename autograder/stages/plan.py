"""Stage *plan*: the grading plan of each assignment, read from the instructors' nbgrader
source notebooks.

For every notebook: its cells in source order, which of them are autograded tests (with
their points, their visible text as released, the lines of their hidden blocks and what the
course's plugin reads from them), which are locked, which are answers a person grades.
"""

from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..plugins import Plugin
from ..testcell import defined_names

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MIN_SECRET = 10  # shorter hidden lines (")", "pass", "else:") tell nothing and match anything


def normalise(text):
    """Collapse all whitespace so that a scan does not depend on indentation or wrapping."""
    return " ".join(text.split())


def squash(text):
    """Drop all whitespace and case: what the leak scans compare, so that a hidden line
    printed with its letters spaced apart, re-wrapped or upper-cased is still found."""
    return "".join(text.split()).casefold()


@dataclass
class Question:
    grade_id: str
    points: float
    kind: str  # "auto" or "manual"
    data: object = None  # what the course's plugin read from the test's source (or None)


@dataclass
class NotebookPlan:
    assignment: str
    name: str  # file name without .ipynb
    cells: list  # the source cells (nbformat NotebookNode)
    questions: list  # Question, in notebook order
    release: dict  # grade_id -> visible text of each test cell, as students receive it
    hidden_ranges: dict  # grade_id -> set of 1-based line numbers that are hidden
    secrets: list  # normalised hidden-test lines that must never reach OUT
    defined: frozenset = frozenset()  # names the source cells bind (may shadow builtins)
    answers: dict = None  # grade_id -> nbgrader checksum of each answer cell as released

    @property
    def max_score(self):
        return sum(q.points for q in self.questions)


def nb_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def cell_kind(cell):
    """One of test, manual, solution, locked, task, plain (nbgrader's cell types)."""
    meta = nb_meta(cell)
    if meta.get("task"):
        return "task"
    if meta.get("grade") and meta.get("solution"):
        return "manual"
    if meta.get("grade") and cell.get("cell_type") == "code":
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("locked"):
        return "locked"
    return "plain"


def split_hidden(source):
    """(visible text as released, set of hidden line numbers) of a test cell's source."""
    visible, hidden, inside = [], set(), False
    for n, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker.startswith(BEGIN_HIDDEN):
            inside = True
            hidden.add(n)
            continue
        if marker.startswith(END_HIDDEN):
            inside = False
            hidden.add(n)
            continue
        if inside:
            hidden.add(n)
        else:
            visible.append(line)
    return "\n".join(visible), hidden


def same_text(a, b):
    """Whether two cell texts are the same up to trailing spaces and blank edge lines."""
    def clean(text):
        return "\n".join(line.rstrip() for line in text.strip().splitlines())
    return clean(a) == clean(b)


def load_notebook_plan(path, assignment, plugin):
    nb = nbformat.read(str(path), as_version=4)
    questions, release, hidden_ranges, hidden_lines, visible_lines = [], {}, {}, [], set()
    for cell in nb.cells:
        meta = nb_meta(cell)
        kind = cell_kind(cell)
        gid = meta.get("grade_id")
        if kind == "test":
            visible, hidden = split_hidden(cell.source)
            release[gid] = visible
            hidden_ranges[gid] = hidden
            lines = cell.source.splitlines()
            hidden_lines += [lines[n - 1] for n in sorted(hidden)]
            questions.append(Question(gid, float(meta.get("points", 0)), "auto",
                                      plugin.inspect(cell.source)))
            visible_lines.update(normalise(x) for x in visible.splitlines())
        else:
            if kind in ("manual", "task"):
                questions.append(Question(gid, float(meta.get("points", 0)), "manual"))
            visible_lines.update(normalise(x) for x in cell.source.splitlines())
    secrets = sorted({normalise(x) for x in hidden_lines}
                     - visible_lines - {normalise(BEGIN_HIDDEN), normalise(END_HIDDEN)})
    secrets = [s for s in secrets if len(s) >= MIN_SECRET]
    defined = frozenset(defined_names(c.source for c in nb.cells if c.cell_type == "code"))
    return NotebookPlan(assignment, Path(path).stem, list(nb.cells), questions, release,
                        hidden_ranges, secrets, defined, released_checksums(nb))


def released_checksums(nb):
    """{grade_id: checksum} of the answer cells as nbgrader releases them (solutions
    cleared): an answer whose checksum is still this was left unanswered."""
    import copy

    from nbgrader.preprocessors import ClearSolutions
    from nbgrader.utils import compute_checksum

    released, _ = ClearSolutions().preprocess(copy.deepcopy(nb), {})
    return {nb_meta(c)["grade_id"]: compute_checksum(c) for c in released.cells
            if nb_meta(c).get("grade_id") and cell_kind(c) in ("solution", "manual", "task")}


def load_plans(source_dir, assignments=None, plugin=None):
    """{assignment: {notebook: NotebookPlan}} for the assignments under `source_dir`;
    `plugin` (an `autograder.plugins.Plugin`) reads each test cell's source."""
    plugin = plugin or Plugin()
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source folder {source_dir} does not exist")
    names = assignments or sorted(p.name for p in source_dir.iterdir()
                                  if p.is_dir() and any(p.glob("*.ipynb")))
    plans = {}
    for a in names:
        folder = source_dir / a
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            raise FileNotFoundError(f"no source notebooks for assignment {a!r} in {folder}")
        plans[a] = {p.stem: load_notebook_plan(p, a, plugin) for p in notebooks}
    return plans

