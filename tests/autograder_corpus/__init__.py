"""Builds grading corpora for the autograder's tests and benchmark.

* `toy_course(root)`: a small nbgrader course that uses features the course's own notebooks
  do not (two notebooks per assignment, a data file beside them, fractional points, partial
  credit, a test that checks that one function calls another, a manual answer and a task).
* `make_variant(kind, source_nb, release_nb)`: one adversarial submission built from an
  assignment's source and release notebooks; `VARIANTS` lists them and `expected_rows`
  says what the grader must give each.
"""

import ast
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=0, task=False):
    return {"nbgrader": {"grade_id": grade_id, "grade": grade, "solution": solution,
                         "locked": locked, "points": points, "task": task,
                         "schema_version": 3}}


def _code(src, **kw):
    cell = new_code_cell(src)
    if kw:
        cell.metadata.update(_meta(**kw))
    return cell


def _md(src, **kw):
    cell = new_markdown_cell(src)
    if kw:
        cell.metadata.update(_meta(**kw))
    return cell


PART1 = [
    _md("# Problem set 1, part 1\nSquares and a data file."),
    _code("from pathlib import Path\nimport numpy as np", grade_id="imports", locked=True),
    _code("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION\n\n\n"
          "def squares(n):\n    \"\"\"[square(1), ..., square(n)], computed with square.\"\"\"\n"
          "    ### BEGIN SOLUTION\n    return [square(i) for i in range(1, n + 1)]\n"
          "    ### END SOLUTION", grade_id="squares", solution=True),
    _code("assert squares(1) == [1], \"squares(1) should be [1]\"\n"
          "### BEGIN HIDDEN TESTS\n"
          "assert squares(3) == [1, 4, 9], \"hidden: squares(3) is wrong\"\n"
          "assert squares(10)[-1] == 100 and len(squares(10)) == 10\n### END HIDDEN TESTS",
          grade_id="test_squares", grade=True, locked=True, points=1.5),
    _code("_calls = []\n_real_square = square\n\n\ndef square(x):\n    _calls.append(x)\n"
          "    return _real_square(x)\n\n\ntry:\n    squares(4)\nfinally:\n"
          "    square = _real_square\n"
          "assert _calls == [1, 2, 3, 4], \"squares must call square once per number\"",
          grade_id="test_calls_square", grade=True, locked=True, points=0.5),
    _code("### BEGIN HIDDEN TESTS\n"
          "_right_answers = float(sum(squares(k)[-1] == k * k for k in (2, 5, 7, 9)))\n"
          "_right_answers * 0.5\n### END HIDDEN TESTS",
          grade_id="test_partial", grade=True, locked=True, points=2),
    _code("def load_numbers():\n    \"\"\"The integers in data.txt (beside this notebook).\"\"\"\n"
          "    ### BEGIN SOLUTION\n"
          "    return [int(t) for t in Path(\"data.txt\").read_text().split()]\n"
          "    ### END SOLUTION", grade_id="load", solution=True),
    _code("### BEGIN HIDDEN TESTS\nassert sum(load_numbers()) == 15, \"load_numbers reads 1..5\"\n"
          "### END HIDDEN TESTS", grade_id="test_load", grade=True, locked=True, points=1),
    _md("Why does `squares` call `square`?"),
    _md("YOUR ANSWER HERE", grade_id="explain", grade=True, solution=True, points=1),
]

PART2 = [
    _md("# Problem set 1, part 2"),
    _code("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n"
          "    ### END SOLUTION", grade_id="mean", solution=True),
    _code("assert mean([2, 4]) == 3\n### BEGIN HIDDEN TESTS\n"
          "assert abs(mean([1.5, 2.5, 3.5, 10.0]) - 4.375) < 1e-12, \"hidden mean check\"\n"
          "### END HIDDEN TESTS", grade_id="test_mean", grade=True, locked=True, points=1.25),
    _md("Plot the mean of a growing list (graded by hand).", grade_id="task_plot", task=True,
        locked=True,
        points=1),
]


def write_toy_source(root):
    """The toy course's nbgrader source folder `root/source/ps1` (no nbgrader run)."""
    src = Path(root) / "source" / "ps1"
    src.mkdir(parents=True)
    for name, cells in (("part1", PART1), ("part2", PART2)):
        nb = new_notebook(cells=copy.deepcopy(cells),
                          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}})
        nbformat.write(nb, str(src / f"{name}.ipynb"))
    (src / "data.txt").write_text("1 2 3\n4 5\n")
    return src.parent


def release_folder(src, dest):
    """The student release of one assignment folder, made in-process with nbgrader's own
    preprocessors (what `nbgrader generate_assignment` does to the notebooks)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in Path(src).iterdir():
        if path.suffix != ".ipynb":
            if path.is_file():
                shutil.copy(path, dest / path.name)
            continue
        nb, resources = nbformat.read(str(path), as_version=4), {}
        for step in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
            nb, resources = step.preprocess(nb, resources)
        nbformat.write(nb, str(dest / path.name))
    return dest


def toy_course(root):
    """An nbgrader course in `root` with assignment ps1 (part1, part2 and data.txt), its
    release generated by `nbgrader generate_assignment`. Returns (source_dir, release_dir)."""
    root = Path(root)
    write_toy_source(root)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        "c.CourseDirectory.course_id = 'toy'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root}/gradebook.db'\n"
        "c.ExecutePreprocessor.timeout = 60\n")
    nbgrader(root, "generate_assignment", "ps1", "--force")
    return root / "source", root / "release"


def nbgrader(root, *args):
    """Run a stock nbgrader command in the course at `root`."""
    cmd = [str(Path(PY).with_name("nbgrader")), *args, "--log-level=ERROR"]
    env = dict(os.environ, PATH=f"{Path(PY).parent}:{os.environ.get('PATH', '')}")
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


# ----------------------------------------------------------------------------- variants

def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _flags(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_test(cell):
    f = _flags(cell)
    return cell.cell_type == "code" and f.get("grade") and not f.get("solution")


def _functions(source):
    try:
        return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    except SyntaxError:
        return []


def _return_arity(source_nb):
    """{function: number of values its (source) return statement returns}."""
    arity = {}
    for cell in source_nb.cells:
        if cell.cell_type != "code" or not _flags(cell).get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Return) and node.value is not None:
                        value = node.value
                        arity[fn.name] = len(value.elts) if isinstance(value, ast.Tuple) else 1
                        break
    return arity


def _first_solution_function(source_nb):
    for cell in source_nb.cells:
        if cell.cell_type == "code" and _flags(cell).get("solution"):
            names = _functions(cell.source)
            if names:
                return cell, names[-1]
    raise ValueError("no solution cell defines a function")


def fill(release_nb, source_nb):
    """The release with every solution cell answered as in the source (full marks)."""
    answers = {_gid(c): c.source for c in source_nb.cells if _flags(c).get("solution")}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if _gid(cell) in answers:
            cell.source = answers[_gid(cell)]
    return nb


def _after_first_test(nb, cell):
    for i, c in enumerate(nb.cells):
        if _is_test(c):
            nb.cells.insert(i + 1, cell)
            return nb
    raise ValueError("no test cell")


def _wrap_cell(nb, source_nb, code):
    """Append `code` (with {f} the first graded function) to that function's cell."""
    src_cell, name = _first_solution_function(source_nb)
    for cell in nb.cells:
        if _gid(cell) == _gid(src_cell):
            cell.source += "\n\n" + code.format(f=name)
            return nb
    raise ValueError("solution cell not in the release")


PERTURB = '''
def _perturb(v):
    import numpy as _np
    if isinstance(v, _np.ndarray) and v.dtype.kind == "f":
        return v * 1.001
    if isinstance(v, tuple) and v:
        return (_perturb(v[0]),) + v[1:]
    if isinstance(v, list):
        return [_perturb(x) for x in v]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v + 1
    return v


_exact_{f} = {f}


def {f}(*args, **kwargs):
    return _perturb(_exact_{f}(*args, **kwargs))
'''

NUMPY_PATCH = '''import numpy as np
import numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
np.max = lambda *a, **k: 0.0
np.abs = lambda x, *a, **k: x * 0
'''

ECHO_HOOK = '''import sys
_ip = get_ipython()
_ip.events.register("pre_run_cell", lambda info: print("ECHO", info.raw_cell))
_ip.events.register("post_run_cell", lambda r: print("ECHO", r.info.raw_cell))
_seen = []
# Sees the source of every cell compiled, hidden tests included; keeps it for a later cell.
sys.addaudithook(lambda ev, args: _seen.append(bytes(args[0]).decode(errors="replace"))
                 if ev == "compile" and isinstance(args[0], bytes) else None)
'''

READER = '''import gc
import os
import sys
for _root, _dirs, _files in os.walk("/"):
    if _root.startswith(("/proc", "/sys", "/dev", "/usr")) or "/lib/python3" in _root:
        _dirs[:] = []
        continue
    for _f in _files:
        _p = os.path.join(_root, _f)
        try:
            if os.path.getsize(_p) > 2_000_000:
                continue
            with open(_p, errors="ignore") as _fh:
                _t = _fh.read(2_000_000)
        except Exception:
            continue
        if "HIDDEN" in _t:
            print(_p)
            print(_t)
print("\\n".join(In))
_r = get_ipython().last_execution_result
print(_r.info.raw_cell if _r is not None else "")
for _o in gc.get_objects():
    try:
        for _s in (_o.values() if isinstance(_o, dict) else _o if isinstance(_o, list) else []):
            if isinstance(_s, str) and "HIDDEN" in _s:
                print(_s)
    except Exception:
        pass
_fr = sys._getframe()
while _fr is not None:
    for _v in list(_fr.f_locals.values()):
        if isinstance(_v, (str, dict)) and "HIDDEN" in str(_v):
            print(_v)
    _fr = _fr.f_back
'''

HANG = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)  # ignore the grader\n"
        "while True:\n    pass")
SLOW = "def {f}(*args, **kwargs):\n    while True:\n        pass"
CRASH = "import os\nos._exit(1)"
MEMORY = ("def {f}(*args, **kwargs):\n    import numpy\n    hog = []\n    while True:\n"
          "        hog.append(numpy.empty(32 * 2**20))")
FORK_BOMB = ("import os\n\ndef _bomb():\n    while True:\n        try:\n            os.fork()\n"
             "        except OSError:\n            pass\n\n_bomb()")

VARIANTS = ["full", "blank", "wrong", "numpy", "override", "emptied", "echo", "reader", "loop",
            "hang", "crash", "memory", "forkbomb", "corrupt", "missing"]


def make_variant(kind, source_nb, release_nb):
    """The submitted notebook (NotebookNode, or str for 'corrupt', None for 'missing')."""
    full = fill(release_nb, source_nb)
    if kind == "full":
        return full
    if kind == "blank":
        return copy.deepcopy(release_nb)
    if kind == "wrong":
        return _wrap_cell(full, source_nb, PERTURB)
    if kind == "numpy":
        nb = copy.deepcopy(release_nb)
        for cell in nb.cells:
            if cell.cell_type == "code" and _flags(cell).get("solution"):
                names = _functions(cell.source)
                cell.source = "\n".join(
                    f"def {n}(*a, **k):\n    return (np.zeros((2, 2)),) * 8\n" for n in names)
        nb.cells.insert(0, new_code_cell(NUMPY_PATCH))
        return nb
    if kind == "override":
        # Garbage answers, with the in-kernel checker replaced by one that accepts anything
        # (stock nbgrader then gives full marks; the outside comparison must not).
        nb = copy.deepcopy(release_nb)
        arity = _return_arity(source_nb)
        for cell in nb.cells:
            if cell.cell_type == "code" and _flags(cell).get("solution"):
                stubs = []
                for n in _functions(cell.source):
                    k = arity.get(n, 1)
                    value = "np.zeros((2, 2))" if k == 1 else f"(np.zeros((2, 2)),) * {k}"
                    stubs.append(f"def {n}(*a, **k):\n    return {value}\n")
                cell.source = "\n".join(stubs + ["def check(*a, **k):\n    return None\n"])
        return nb
    if kind == "emptied":
        for cell in full.cells:
            if _is_test(cell):
                cell.source = ""
        return full
    if kind == "echo":
        full.cells.insert(0, new_code_cell(ECHO_HOOK))
        full.cells.append(new_code_cell('print("\\n".join(_seen))'))
        return full
    if kind == "reader":
        full.cells.append(new_code_cell(READER))
        return full
    if kind == "loop":
        return _wrap_cell(full, source_nb, SLOW)
    if kind == "hang":
        return _after_first_test(full, new_code_cell(HANG))
    if kind == "crash":
        return _after_first_test(full, new_code_cell(CRASH))
    if kind == "memory":
        return _wrap_cell(full, source_nb, MEMORY)
    if kind == "forkbomb":
        full.cells.append(new_code_cell(FORK_BOMB))
        return full
    if kind == "corrupt":
        return '{"cells": [ this is not json'
    if kind == "missing":
        return None
    raise ValueError(kind)


STUDENTS = {"full": "Zoë Brontë", "blank": "blank student", "wrong": "Łukasz Wrong",
            "numpy": "numpy patcher", "override": "checker overrider",
            "emptied": "emptied tests", "echo": "echo hook",
            "reader": "fs reader", "loop": "slow loop", "hang": "hangs forever",
            "crash": "crash", "memory": "memory bomb", "forkbomb": "fork bomb",
            "corrupt": "corrupt json", "missing": "李 雷 missing"}


def write_corpus(dest, assignments, variants=VARIANTS):
    """Write one student per variant under `dest` (nbgrader layout) for every assignment.

    assignments: {name: (source_folder, release_folder)}; supporting files of the release
    are copied beside the notebooks, as a student's submission has them.
    """
    dest = Path(dest)
    for kind in variants:
        for a, (src_dir, rel_dir) in assignments.items():
            folder = dest / STUDENTS[kind] / a
            folder.mkdir(parents=True, exist_ok=True)
            for extra in Path(rel_dir).iterdir():
                if extra.is_file() and extra.suffix != ".ipynb":
                    shutil.copy(extra, folder / extra.name)
            for nb_path in sorted(Path(src_dir).glob("*.ipynb")):
                source_nb = nbformat.read(str(nb_path), as_version=4)
                release_nb = nbformat.read(str(Path(rel_dir) / nb_path.name), as_version=4)
                sub = make_variant(kind, source_nb, release_nb)
                if sub is None:
                    continue
                target = folder / nb_path.name
                if isinstance(sub, str):
                    target.write_text(sub)
                else:
                    nbformat.write(sub, str(target))
    return dest


def expected_status(kind, question_index, visible_text):
    """The (score rule, status) the grader must give the i-th autograded question of a
    notebook of a `kind` submission: score rule 'max', 'zero' or 'any'. `visible_text` is
    the test cell as released: emptying a cell that is hidden entirely changes nothing."""
    first = question_index == 0
    if kind == "emptied" and not visible_text.strip():
        return ("max", "ok")
    return {
        "full": ("max", "ok"), "echo": ("max", "ok"), "reader": ("max", "ok"),
        "forkbomb": ("max", "ok"),
        "blank": ("zero", "failed"), "numpy": ("zero", "failed"),
        "override": ("zero", "failed"),
        "emptied": ("zero", "tampered"),
        "corrupt": ("zero", "invalid"), "missing": ("zero", "missing"),
        "hang": ("max", "ok") if first else ("zero", "timeout"),
        "crash": ("max", "ok") if first else ("zero", "crashed"),
        "loop": ("zero", "timeout") if first else ("any", None),
        "memory": ("zero", "memory") if first else ("any", None),
        "wrong": ("zero", "failed") if first else ("any", None),
    }[kind]


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False)
