"""Generate the student release ``exercises/`` from ``solutions/`` and the base package.

Run as ``python -m scripts.make_release`` (``make release``). The notebooks
``exercises/<NN_topic>/*.ipynb`` come from stock ``nbgrader generate_assignment`` with the folder
mapping of ``nbgrader_config.py``; the gradebook it insists on creating goes to a temporary
folder, so the repository only changes in ``exercises/``. The base package ``rnntools/`` is
copied to ``exercises/rnntools/``, so that a student installs it from the release alone. The
output is deterministic: the same sources give byte-identical files.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
BASE_PACKAGE = ROOT / "rnntools"

#: What a copy of the base package leaves out: build and install by-products.
NOT_COPIED = ("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def assignments(source=SOLUTIONS):
    return sorted(p.name for p in source.iterdir() if p.is_dir() and p.name[:2].isdigit())


def release(out_dir=EXERCISES, source=SOLUTIONS, log_dir=None):
    """Run ``nbgrader generate_assignment`` for every assignment, writing into ``out_dir``.

    Args:
        out_dir: the release folder (``exercises/`` by default, or a temporary one in tests).
        source: the nbgrader source folder.
        log_dir: where the throw-away gradebook and nbgrader's log go (a new temporary folder
            by default).
    """
    with tempfile.TemporaryDirectory(prefix="rnn-release-") as tmp:
        work = Path(log_dir or tmp)
        # One invocation for all assignments ("[0-9]*" is a glob nbgrader expands): nbgrader's
        # start-up costs about two seconds.
        command = [
            sys.executable, "-m", "nbgrader", "generate_assignment", "[0-9]*",
            "--force", "--log-level=WARN",
            f"--CourseDirectory.root={ROOT}",
            f"--CourseDirectory.source_directory={source}",
            f"--CourseDirectory.release_directory={out_dir}",
            f"--CourseDirectory.db_url=sqlite:///{work / 'gradebook.db'}",
        ]
        # nbgrader reads nbgrader_config.py from the working directory and writes its log
        # there: run it from a scratch folder holding only a copy of our config.
        (work / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
        # nbgrader runs the `alembic` command of its own environment to set up the gradebook.
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        subprocess.run(command, cwd=work, env=env, check=True)
    return [p for a in assignments(source) for p in sorted((Path(out_dir) / a).glob("*.ipynb"))]


def package_files(folder):
    """The files of a copy of the base package under ``folder``, relative to it, sorted."""
    ignored = shutil.ignore_patterns(*NOT_COPIED)
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(set(dirnames) - ignored(dirpath, dirnames))
        rel = Path(dirpath).relative_to(folder)
        found += [rel / name for name in sorted(set(filenames) - ignored(dirpath, filenames))]
    return sorted(found)


def copy_base_package(out_dir=EXERCISES, source=BASE_PACKAGE):
    """Replace ``out_dir/rnntools`` with a copy of the base package; return its path."""
    target = Path(out_dir) / source.name
    if target.exists():
        shutil.rmtree(target)
    for rel in package_files(source):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    return target


def package_drift(copy, source=BASE_PACKAGE):
    """Relative paths where the copy ``copy`` differs from the base package (missing, extra or
    changed files); empty when it is an exact copy."""
    theirs, ours = set(package_files(copy)), set(package_files(source))
    changed = {rel for rel in theirs & ours
               if (copy / rel).read_bytes() != (source / rel).read_bytes()}
    return sorted(str(rel) for rel in (theirs ^ ours) | changed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=EXERCISES, help="release folder")
    args = parser.parse_args(argv)
    for path in release(args.out.resolve()):
        print(f"released {path}")
    print(f"copied {BASE_PACKAGE.name}/ to {copy_base_package(args.out.resolve())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
