"""Grading throughput: this project's grader against stock `nbgrader autograde`.

Generates N submissions (default 200) of one assignment (default 05_lstm, else the first
assignment that has a release) mixed from correct, blank, slightly wrong and hostile
notebooks (NumPy monkeypatched, emptied tests, an echo hook, os._exit), grades them with both
graders in the same run on the same files, and prints submissions per minute and the ratio.
Prints figures; not a test.

    .venv/bin/python benchmarks/grading.py [--n 200] [--assignment 05_lstm] [--workers 2]
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import autograder_corpus as corpus  # noqa: E402

MIX = ["full", "full", "full", "wrong", "blank", "numpy", "emptied", "echo", "crash", "full"]


def pick_assignment(wanted):
    for name in [wanted] + sorted(p.name for p in (ROOT / "solutions").glob("*")):
        if (ROOT / "solutions" / name).is_dir() and (ROOT / "exercises" / name).is_dir():
            return name
    raise SystemExit("no assignment with both solutions/ and exercises/ folders")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--assignment", default="05_lstm")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-nbgrader", action="store_true")
    args = parser.parse_args()
    a = pick_assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        course = Path(tmp) / "course"
        (course / "source").mkdir(parents=True)
        shutil.copytree(ROOT / "solutions" / a, course / "source" / a)
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
            f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
            "c.CourseDirectory.course_id = 'bench'\n")
        corpus.nbgrader(course, "generate_assignment", a, "--force")
        staging = Path(tmp) / "variants"
        corpus.write_corpus(staging, {a: (ROOT / "solutions" / a, ROOT / "exercises" / a)},
                            sorted(set(MIX)))
        submitted = course / "submitted"
        for i in range(args.n):
            kind = MIX[i % len(MIX)]
            shutil.copytree(staging / corpus.STUDENTS[kind], submitted / f"s{i:03d}")
        print(f"{args.n} submissions of {a}: "
              + ", ".join(f"{k} x{sum(MIX[i % len(MIX)] == k for i in range(args.n))}"
                          for k in sorted(set(MIX))))

        t0 = time.perf_counter()
        out = Path(tmp) / "out"
        subprocess.run([sys.executable, "-m", "autograder", "grade", str(submitted), "--out",
                        str(out), "--source", str(course / "source"), "--assignment", a,
                        "--plugin", "course.plugin:RnnCourse",
                        "--workers", str(args.workers), "--quiet"], cwd=ROOT, check=True)
        ours = time.perf_counter() - t0
        with open(out / "grades.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        print(f"ours     : {ours:7.1f} s  {args.n / ours * 60:7.1f} submissions/min "
              f"({args.workers} workers, sandbox {os.environ.get('AUTOGRADER_SANDBOX', 'bwrap')},"
              f" {len(rows)} rows)")
        if args.skip_nbgrader:
            return
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        t0 = time.perf_counter()
        stock = subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "autograde", a,
                                "--force", "--log-level=ERROR"], cwd=course, env=env,
                               capture_output=True, text=True)
        theirs = time.perf_counter() - t0
        # nbgrader gives up on a notebook whose kernel dies (os._exit) and exits non-zero.
        failed = stock.stderr.count("There was an error processing assignment '")
        print(f"nbgrader : {theirs:7.1f} s  {args.n / theirs * 60:7.1f} submissions/min "
              f"(sequential, one Jupyter kernel per notebook; exit code {stock.returncode}, "
              f"{failed} submissions it could not grade)")
        print(f"ratio    : {theirs / ours:.2f}x nbgrader's throughput")


if __name__ == "__main__":
    main()
