"""The layers import only downwards: rnntools (the base package) <- rnnlib <- course, and the
grader knows no course.

- ``rnntools/`` imports the standard library, NumPy and IPython (for ``submit``'s display) only:
  never rnnlib, the grader or the course;
- ``rnnlib/`` never imports the grader or the course;
- ``autograder/`` names no course package (rnnlib, rnntools, course), neither in an import nor
  as a string given to ``importlib`` (the course plugs in through ``course/plugin.py``).

Read from the source files with ``ast``, so a lazy import inside a function counts too.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

COURSE_PACKAGES = {"rnnlib", "rnntools", "course"}

# Grader modules allowed to name a course package: none. The course's side of the grader is its
# plugin, course/plugin.py, which nbgrader_config.py names (c.Autograder.plugin); the grader
# loads it by that name and mounts what it lists.
COURSE_PLUGIN = set()

#: What the base package may import besides the standard library.
BASE_THIRD_PARTY = {"numpy", "IPython"}


def imported(source):
    """{top-level package name: first line} of everything ``source`` imports, including
    ``importlib.import_module("x...")``, ``importlib.util.find_spec("x...")`` and
    ``__import__("x...")`` with a literal name."""
    found = {}

    def add(name, node):
        if name:
            found.setdefault(name.split(".")[0], node.lineno)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            add(node.module, node)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "find_spec", "__import__") and isinstance(
                    node.args[0].value, str):
                add(node.args[0].value, node)
    return found


def sources(folder):
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def violations(folder, allowed=None, forbidden=frozenset(), exempt=frozenset()):
    """["path:line imports name"] for the files of ``folder``: every import outside
    ``allowed`` (when given) and every import in ``forbidden``; files in ``exempt`` skipped."""
    bad = []
    for path in sources(folder):
        rel = path.relative_to(ROOT).as_posix()
        if rel in exempt:
            continue
        for name, line in imported(path.read_text()).items():
            if name in forbidden or (allowed is not None and name not in allowed):
                bad.append(f"{rel}:{line} imports {name}")
    return bad


def test_there_are_sources_to_read():
    for folder in ("rnntools", "rnnlib", "autograder"):
        assert len(sources(folder)) >= 3, folder
    # The checker sees what it must: the base package's NumPy and a lazy import.
    assert "numpy" in imported((ROOT / "rnntools" / "checks.py").read_text())
    assert "IPython" in imported((ROOT / "rnntools" / "grading" / "__init__.py").read_text())


def test_the_base_package_imports_only_the_standard_library_numpy_and_ipython():
    allowed = set(sys.stdlib_module_names) | BASE_THIRD_PARTY | {"rnntools"}
    assert not (COURSE_PACKAGES - {"rnntools"}) & allowed
    assert violations("rnntools", allowed=allowed) == []


def test_rnnlib_imports_neither_the_grader_nor_the_course():
    assert violations("rnnlib", forbidden={"autograder", "course"}) == []


def test_the_grader_imports_no_course_package_outside_the_plugin():
    assert all((ROOT / rel).is_file() for rel in COURSE_PLUGIN), "the allowance names a file"
    assert violations("autograder", forbidden=COURSE_PACKAGES, exempt=COURSE_PLUGIN) == []


@pytest.mark.parametrize("source, name", [
    ("import rnnlib.layers\n", "rnnlib"),
    ("def f():\n    from course.references import expected\n", "course"),
    ("import importlib\nimportlib.import_module('rnnlib.references')\n", "rnnlib"),
    ("import importlib.util\nimportlib.util.find_spec('rnntools')\n", "rnntools"),
    ("x = __import__('autograder')\n", "autograder"),
])
def test_the_checker_finds_a_planted_import(source, name):
    assert name in imported(source)


def test_the_checker_ignores_relative_imports_and_other_calls():
    assert imported("from . import plan\nfrom .files import x\nprint('rnnlib')\n") == {}
