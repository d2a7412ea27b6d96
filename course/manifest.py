"""The manifests: ``course/<NN_topic>/manifest.yaml`` lists every graded question of an
assignment (the format is described in ``course/README.md``).

A question of kind ``cases`` (the default) grades one rnnlib function on hidden cases: it names
the function (``grades``), the case generator (``case``, a key of
``rnntools.grading.cases.GENERATORS``, which is also the check's name in the test cell and in
the grader), the run lines that call it (``course.steps``), its outputs, and the cases.
A question of kind ``test`` is a graded code cell written out in full in the template, and one
of kind ``answer`` a written answer that a person grades.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from course import steps as run_lines

__all__ = ["COURSE", "Question", "Assignment", "load", "assignments", "checks",
           "graded_functions"]

COURSE = Path(__file__).resolve().parent
KINDS = ("cases", "test", "answer")
# libyaml's safe loader when PyYAML was built with it (ten times faster), else the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FIELDS = {
    "cases": ({"grade_id", "points", "grades", "case", "run", "hidden"},
              {"kind", "outputs", "visible", "title"}),
    "test": ({"grade_id", "points", "title"}, {"kind"}),
    "answer": ({"grade_id", "points"}, {"kind", "title"}),
}


@dataclass(frozen=True)
class Question:
    """One graded question; see the module docstring and ``course/README.md``."""

    assignment: str
    grade_id: str
    points: float
    kind: str = "cases"
    title: str = ""
    grades: str = ""
    case: str = ""
    steps: tuple = ()
    outputs: tuple = ()
    hidden: tuple = ()
    visible: tuple = ()

    @property
    def module(self):
        """The dotted name of the module that holds the graded function."""
        return self.grades.rpartition(".")[0]

    @property
    def function(self):
        """The graded function's name."""
        return self.grades.rpartition(".")[2]


@dataclass(frozen=True)
class Assignment:
    """An assignment's folder, its templates and its questions in manifest order."""

    name: str
    folder: Path
    questions: tuple

    @property
    def templates(self):
        return sorted(self.folder.glob("*.cells"))

    def question(self, grade_id):
        for q in self.questions:
            if q.grade_id == grade_id:
                return q
        raise LookupError(f"{self.name}/manifest.yaml has no question {grade_id!r}")


def _cases(where, value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a list of cases such as {{seed: 0, N: 2}}")
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("seed"), int):
            raise ValueError(f"{where}: every case is a mapping with an integer seed: {item!r}")
    return tuple(dict(item) for item in value)


def _question(assignment, entry):
    where = f"{assignment}/manifest.yaml"
    if not isinstance(entry, dict) or "grade_id" not in entry:
        raise ValueError(f"{where}: every question is a mapping with a grade_id: {entry!r}")
    where += f" ({entry['grade_id']})"
    kind = entry.get("kind", "cases")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    required, optional = _FIELDS[kind]
    missing, unknown = required - set(entry), set(entry) - required - optional
    if missing or unknown:
        raise ValueError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    points = entry["points"]
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        raise ValueError(f"{where}: points must be a positive number, not {points!r}")
    fields = {"assignment": assignment, "grade_id": str(entry["grade_id"]), "points": points,
              "kind": kind, "title": str(entry.get("title", ""))}
    if kind == "cases":
        if not isinstance(entry["run"], list) or not entry["run"]:
            raise ValueError(f"{where}: run is a list of lines 'EXPRESSION -> TARGET, ...'")
        steps = tuple(run_lines.parse(line) for line in entry["run"])
        outputs = tuple(entry.get("outputs") or run_lines.outputs(steps))
        bound = {t for s in steps for t in s.targets}
        if not outputs or not set(outputs) <= bound:
            raise ValueError(f"{where}: outputs {list(outputs)} must be targets of run lines")
        if "." not in str(entry["grades"]):
            raise ValueError(f"{where}: grades is a dotted path such as rnnlib.layers.rnn_forward")
        fields.update(grades=str(entry["grades"]), case=str(entry["case"]), steps=steps,
                      outputs=outputs, hidden=_cases(f"{where} hidden", entry["hidden"]),
                      visible=_cases(f"{where} visible", entry["visible"])
                      if "visible" in entry else ())
    return Question(**fields)


def load(folder):
    """The :class:`Assignment` in ``folder`` (which holds ``manifest.yaml``)."""
    path = Path(folder).resolve() / "manifest.yaml"
    stat = path.stat()
    return _load(path.parent, (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=256)
def _load(folder, stamp):
    # Keyed on the file's mtime and size too, so that an edited manifest is read again.
    data = yaml.load((folder / "manifest.yaml").read_text(), Loader=_LOADER)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{folder.name}/manifest.yaml: expected a list under 'questions:'")
    questions = tuple(_question(folder.name, entry) for entry in data["questions"])
    ids = [q.grade_id for q in questions]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{folder.name}/manifest.yaml: a grade_id appears twice")
    return Assignment(folder.name, folder, questions)


def assignments(root=COURSE):
    """Every assignment of the course: the folders ``NN_topic`` under ``root``, in order."""
    return [load(p) for p in sorted(Path(root).iterdir())
            if p.is_dir() and p.name[:2].isdigit() and (p / "manifest.yaml").exists()]


def checks(root=COURSE):
    """{check name: Question} over the whole course; a check name belongs to one question."""
    found = {}
    for assignment in assignments(root):
        for q in assignment.questions:
            if q.kind != "cases":
                continue
            if q.case in found:
                other = found[q.case]
                raise ValueError(f"case {q.case!r} is checked by {other.assignment}/"
                                 f"{other.grade_id} and by {q.assignment}/{q.grade_id}")
            found[q.case] = q
    return found


def graded_functions(root=COURSE):
    """{function name: dotted path} of every function some question grades."""
    found = {}
    for q in checks(root).values():
        if found.setdefault(q.function, q.grades) != q.grades:
            raise ValueError(f"two graded functions are named {q.function}: "
                             f"{found[q.function]} and {q.grades}")
    return found
