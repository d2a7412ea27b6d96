"""Generate the student release ``exercises/<NN_topic>/*.ipynb`` from ``solutions/``.

Run as ``python -m scripts.make_release`` (``make release``). This is stock
``nbgrader generate_assignment`` with the folder mapping of ``nbgrader_config.py``; the gradebook
it insists on creating goes to a temporary folder, so the repository only changes in
``exercises/``. The output is deterministic: the same solutions give byte-identical notebooks.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=EXERCISES, help="release folder")
    args = parser.parse_args(argv)
    for path in release(args.out.resolve()):
        print(f"released {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
