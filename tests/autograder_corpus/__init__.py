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


#: An assignment whose tests each fall to one of the named attacks on a grader that trusts
#: what a cell displays (docs/grader.md, "Pass or fail"): a plain assert, asserts built on
#: builtins, and a partial-credit value.
THREATS = [
    _md("# Threats\nOne answer, three plain nbgrader tests."),
    _code("import math", grade_id="t_imports", locked=True),
    _code("def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION",
          grade_id="answer", solution=True),
    _code("result = answer()\nassert result == 42, \"answer() should be 42\"\n"
          "### BEGIN HIDDEN TESTS\nassert answer() + 1 == 43, \"hidden: answer() + 1\"\n"
          "### END HIDDEN TESTS", grade_id="test_plain", grade=True, locked=True, points=1),
    _code("assert abs(answer() - 42) < 1e-9\nassert len(str(answer())) == 2\n"
          "assert isinstance(answer(), int)", grade_id="test_builtins", grade=True, locked=True,
          points=1),
    _code("float(answer() == 42) * 2", grade_id="test_partial", grade=True, locked=True,
          points=2),
]


def write_threats_source(root):
    """The source folder `root/source/threats` of the THREATS assignment."""
    src = Path(root) / "source" / "threats"
    src.mkdir(parents=True)
    nb = new_notebook(cells=copy.deepcopy(THREATS),
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nbformat.write(nb, str(src / "t1.ipynb"))
    return src


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
DISK_BOMB = ("def {f}(*args, **kwargs):\n    with open('fill', 'wb') as out:\n"
             "        while True:\n            out.write(b'x' * 2**24)")
FORK_BOMB = ("import os\n\ndef _bomb():\n    while True:\n        try:\n            os.fork()\n"
             "        except OSError:\n            pass\n\n_bomb()")

VARIANTS = ["full", "blank", "wrong", "numpy", "override", "emptied", "echo", "reader", "loop",
            "hang", "crash", "memory", "forkbomb", "corrupt", "missing", "spaced",
            "disk"]


def _a_hidden_line(source_nb):
    """A hidden-test line of the notebook that appears nowhere a student can see it."""
    hidden, visible = [], set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                inside = "BEGIN" in line
            elif inside:
                hidden.append(line.strip())
            else:
                visible.add(line.strip())
    for line in hidden:
        if len(line) > 20 and line not in visible:
            return line
    raise ValueError("no hidden line")

# ------------------------------------------------------------------- the named attacks
# Each is a wrong answer (every graded function returns 0) plus one way to make a test that
# should fail count as passed; docs/grader.md lists them with the outcome each must get.

CHEAT_TRACEBACK = ("import IPython.core.interactiveshell\n"
                   "IPython.core.interactiveshell.InteractiveShell.showtraceback = "
                   "lambda *args, **kwargs: None")
CHEAT_TRACEBACK_NONE = ("import IPython.core.interactiveshell\n"
                        "IPython.core.interactiveshell.InteractiveShell.showtraceback = None")
EXCEPTHOOK = "import sys\nsys.excepthook = lambda *args: None"
RUN_CELL = '''from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult
from IPython.core.interactiveshell import InteractiveShell


def _run_nothing(self, raw_cell, *args, **kwargs):
    return ExecutionResult(ExecutionInfo(raw_cell, False, False, False, None))


InteractiveShell.run_cell = _run_nothing
InteractiveShell.run_code = lambda self, *a, **k: False
'''
TRANSFORMERS = '''import ast


class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()


_ip = get_ipython()
_ip.ast_transformers.append(_NoAsserts())
_ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
'''
BUILTINS = '''import builtins
builtins.abs = lambda x: 0
builtins.len = lambda x: 2
builtins.isinstance = lambda *args: True
'''
SHADOW = "abs = lambda x: 0\nlen = lambda x: 2\nisinstance = lambda *args: True"
DISPLAY = '''import sys
sys.displayhook = lambda value: None
_shell = get_ipython()


def _claim_full_credit():
    _shell.displayhook(2.0)  # an execute_result of full credit before the test's own value
'''
WORKER_MODULE = '''import json
import os
import __main__
_real_dumps, _real_loads = json.dumps, json.loads


def _dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and "status" in obj:
        obj = dict(obj, status="ok", outputs=[])
    return _real_dumps(obj, *args, **kwargs)


def _loads(text, *args, **kwargs):
    msg = _real_loads(text, *args, **kwargs)
    if isinstance(msg, dict) and msg.get("test"):
        msg.update(source="pass", exec="pass", eval=None)
    return msg


json.dumps, json.loads = _dumps, _loads
for _name in ("_limit", "cell_line", "CellTimeout", "_dumps", "_Channel", "_Runner", "_exec"):
    setattr(__main__, _name, None)
'''
#: {first_test_cell}: the index, among code cells, of the first test cell.
FORGE = '''def _forge():
    import os, sys
    line = '{{"cell": {first_test_cell}, "status": "ok", "outputs": [], "line": null}}\\n'
    os.write(int(sys.argv[2]), line.encode())
    os._exit(0)
'''
TRACER = '''def _rewrite_result():
    import sys
    caller = sys._getframe(2)

    def trace(frame, event, arg):
        if frame is caller and event == "line":
            frame.f_globals["result"] = 42
            sys.settrace(None)
        return trace

    caller.f_trace = trace
    sys.settrace(lambda *args: None)
'''

#: attack -> (code put in a cell at the top, statement every stub function runs first)
ATTACK_CODE = {
    "cheat_traceback": (CHEAT_TRACEBACK, ""),
    "cheat_traceback_none": (CHEAT_TRACEBACK_NONE, ""),
    "excepthook": (EXCEPTHOOK, ""),
    "run_cell": (RUN_CELL, ""),
    "transformers": (TRANSFORMERS, ""),
    "builtins": (BUILTINS, ""),
    "shadow": (SHADOW, ""),
    "display": (DISPLAY, "_claim_full_credit()"),
    "worker_module": (WORKER_MODULE, ""),
    "forge": (FORGE, "_forge()"),
    "tracer": (TRACER, "_rewrite_result()"),
}
ATTACKS = list(ATTACK_CODE)
#: What each attack earns: honest zero ('failed') or caught ('tampered'), never points.
ATTACK_STATUS = {a: "failed" for a in ATTACKS} | {"forge": "tampered", "tracer": "tampered"}
#: What the grader records of each attack (a word of the note), or None.
ATTACK_NOTE = {"cheat_traceback": "showtraceback", "cheat_traceback_none": "showtraceback",
               "excepthook": None, "run_cell": "InteractiveShell.run_cell",
               "transformers": "transformers", "builtins": "builtins.abs",
               "shadow": "Python's own", "display": None, "worker_module": None,
               "forge": "result channel", "tracer": "tracer"}


def _first_test_index(nb):
    code = [c for c in nb.cells if c.cell_type == "code"]
    return next(i for i, c in enumerate(code) if _is_test(c))


def attack(kind, source_nb, release_nb):
    """A wrong answer (stubs returning 0) with one of the named attacks."""
    top, first = ATTACK_CODE[kind]
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and _flags(cell).get("solution"):
            body = f"    {first}\n" if first else ""
            cell.source = "\n".join(f"def {n}(*args, **kwargs):\n{body}    return 0\n"
                                    for n in _functions(cell.source))
    nb.cells.insert(0, new_code_cell(top.format(first_test_cell=_first_test_index(nb) + 1)))
    return nb


def make_variant(kind, source_nb, release_nb):
    """The submitted notebook (NotebookNode, or str for 'corrupt', None for 'missing')."""
    if kind in ATTACK_CODE:
        return attack(kind, source_nb, release_nb)
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
    if kind == "spaced":  # a hidden line the student knew, printed past a plain-text scan
        spaced = " ".join(_a_hidden_line(source_nb).upper())
        full.cells.append(new_code_cell(f"print({spaced!r})\nprint({spaced!r}.lower())"))
        return full
    if kind == "loop":
        return _wrap_cell(full, source_nb, SLOW)
    if kind == "hang":
        return _after_first_test(full, new_code_cell(HANG))
    if kind == "crash":
        return _after_first_test(full, new_code_cell(CRASH))
    if kind == "memory":
        return _wrap_cell(full, source_nb, MEMORY)
    if kind == "disk":
        return _wrap_cell(full, source_nb, DISK_BOMB)
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
            "corrupt": "corrupt json", "missing": "李 雷 missing",
            "spaced": "spaced out", "disk": "disk filler"} | {
            a: f"attack {a}" for a in ATTACKS}


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


#: Students whose folders hold what is not a regular file (docs/grader.md, "Inputs").
HOSTILE = {"link_solution": "link to the source", "junk_beside": "dangling link and FIFO",
           "linked_folder": "linked assignment folder", "linked_student": "linked student"}
HOSTILE_STATUS = {"link_solution": ("zero", "missing"), "junk_beside": ("max", "ok"),
                  "linked_folder": ("zero", "missing"), "linked_student": ("zero", "missing")}
STUDENTS.update(HOSTILE)


def write_hostile(dest, assignments):
    """The HOSTILE students under `dest` (nbgrader layout), for `assignments` as in
    `write_corpus`. Needs the 'full' student written already (links point at it)."""
    dest = Path(dest)
    full = dest / STUDENTS["full"]
    for a, (src_dir, _) in assignments.items():
        link = dest / STUDENTS["link_solution"] / a
        link.mkdir(parents=True, exist_ok=True)
        for nb_path in sorted(Path(src_dir).glob("*.ipynb")):
            (link / nb_path.name).symlink_to(nb_path.resolve())  # the instructors' notebook
        junk = dest / STUDENTS["junk_beside"] / a
        shutil.copytree(full / a, junk)
        (junk / "data.lnk").symlink_to("/nonexistent/file")
        os.mkfifo(junk / "pipe")
        (junk / "up").symlink_to("..")
        folder = dest / STUDENTS["linked_folder"]
        folder.mkdir(exist_ok=True)
        (folder / a).symlink_to(full / a)
    (dest / STUDENTS["linked_student"]).symlink_to(full)
    return dest


def expected_status(kind, question_index, visible_text):
    if kind in HOSTILE:
        return HOSTILE_STATUS[kind]
    if kind in ATTACK_CODE:
        return ("zero", ATTACK_STATUS[kind])
    return _expected_status(kind, question_index, visible_text)


def _expected_status(kind, question_index, visible_text):
    """The (score rule, status) the grader must give the i-th autograded question of a
    notebook of a `kind` submission: score rule 'max', 'zero' or 'any'. `visible_text` is
    the test cell as released: emptying a cell that is hidden entirely changes nothing."""
    first = question_index == 0
    if kind == "emptied" and not visible_text.strip():
        return ("max", "ok")
    return {
        "full": ("max", "ok"), "echo": ("max", "ok"), "reader": ("max", "ok"),
        "spaced": ("max", "ok"),
        "forkbomb": ("max", "ok"),
        "blank": ("zero", "failed"), "numpy": ("zero", "failed"),
        "override": ("zero", "failed"),
        "emptied": ("max", "ok"),  # put back from the source; the full solution passes
        "corrupt": ("zero", "invalid"), "missing": ("zero", "missing"),
        "hang": ("max", "ok") if first else ("zero", "timeout"),
        "crash": ("max", "ok") if first else ("zero", "crashed"),
        "loop": ("zero", "timeout") if first else ("any", None),
        "memory": ("zero", "memory") if first else ("any", None),
        "disk": ("zero", "disk") if first else ("any", None),
        "wrong": ("zero", "failed") if first else ("any", None),
    }[kind]


def reachable_python(cmd):
    """`cmd`, run where other users can reach this Python installation.

    A root grader without the sandbox runs student code as a private uid, which needs to
    read Python. On machines where an ancestor of the installation is closed to other users
    (here /root, mode 0700), the command runs in a private mount namespace in which that
    folder is replaced by one others may traverse, holding only the installation: the
    layout of a machine with Python in /usr or /opt. Nothing changes outside the namespace.
    """
    prefix = Path(sys.base_prefix).resolve()
    closed = [p for p in prefix.parents if p != Path("/") and not p.stat().st_mode & 0o001]
    if not closed:
        return list(cmd)
    top = closed[-1]
    child = prefix.relative_to(top).parts[0]
    script = (f'set -e; shim=$(mktemp -d); chmod 711 "$shim"; mkdir "$shim/{child}"; '
              f'mount --bind "{top}/{child}" "$shim/{child}"; mount --rbind "$shim" "{top}"; '
              'exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "shim",
            *cmd]


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False)


CLUSTER = '''
import os, sys
from dask.distributed import LocalCluster
print(" ".join("seen" if os.path.exists(p) else "hidden" for p in sys.argv[1:]), flush=True)
with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                  host="127.0.0.1") as cluster:
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # until the test closes the pipe
'''


def _hiding_script(hide):
    """A shell script that mounts an empty tmpfs over `hide`, but keeps this checkout and
    this Python where they are when they live under it (a clone in /tmp, as CI may make):
    they are bound to a private tmpfs on /mnt first, then back in place."""
    hide = Path(hide).resolve()
    keep = sorted({p for p in (ROOT.resolve(), Path(sys.prefix).resolve(),
                               Path(sys.base_prefix).resolve()) if hide in p.parents})
    lines = ["set -e"]
    if keep:
        lines.append("mount -t tmpfs tmpfs /mnt")
        lines += [f'mkdir /mnt/k{i}; mount --rbind "{p}" /mnt/k{i}' for i, p in enumerate(keep)]
    lines.append(f'mount -t tmpfs tmpfs "{hide}"')
    lines += [f'mkdir -p "{p}"; mount --rbind /mnt/k{i} "{p}"' for i, p in enumerate(keep)]
    lines.append('exec "$@"')
    return "; ".join(lines)


class HiddenCluster:
    """A Dask LocalCluster whose scheduler and workers run in a private mount namespace with
    an empty tmpfs over `hide` (this machine's temporary folder): they cannot see anything
    under it (the submissions, the grader's unpacked zips, the source), as workers on other
    machines would not. `seen` says, for each of `paths`, whether the workers could see it."""

    def __init__(self, hide, *paths):
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c",
             _hiding_script(hide), "hide", PY, "-c", CLUSTER, *map(str, paths)], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.seen = self.proc.stdout.readline().split()
        self.address = self.proc.stdout.readline().strip()
        if not self.address.startswith("tcp://"):
            self.close()
            raise RuntimeError(f"the hidden cluster did not start: {self.address!r}")

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
