"""Grading throughput: this project's grader against stock `nbgrader autograde`.

Builds an nbgrader course with N submissions of one assignment (default: 24 of 02_rnn, half
complete, half blank: issue 16's class mix) and grades it with both graders, in paired rounds
that alternate which goes first, each round on fresh copies of the same course:

* ours: ``python -m autograder grade --course COURSE`` (every safety measure on, and
  everything a real class needs written: grades, feedback pages, nbgrader's autograded/
  notebooks and gradebook);
* stock: ``nbgrader autograde`` (autograded/ and the gradebook), and with
  ``--stock-feedback`` also ``nbgrader generate_feedback`` (feedback pages).

Prints the wall time of each, the per-round ratio, their median and spread, the load
average, and (``--timings``) where our time went, stage by stage. Prints figures; not a test.

    .venv/bin/python benchmarks/grading.py [--n 24] [--assignment 02_rnn] [--mix full,blank]
        [--workers 2] [--rounds 3] [--stock-feedback] [--timings] [--baseline CHECKOUT]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import autograder_corpus as corpus  # noqa: E402


def build_course(tmp, assignment, n, mix):
    """An nbgrader course in tmp/course: the assignment generated, n submissions."""
    course = Path(tmp) / "course"
    (course / "source").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / assignment, course / "source" / assignment)
    # No root and no db_url: each round grades its own copy (a root written here would send
    # every copy's grading, and its gradebook, back to this folder).
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        "c.Autograder.plugin = 'course.plugin:RnnCourse'\n")
    corpus.nbgrader(course, "generate_assignment", assignment, "--force")
    staging = Path(tmp) / "variants"
    corpus.write_corpus(staging, {assignment: (ROOT / "solutions" / assignment,
                                               ROOT / "exercises" / assignment)}, sorted(set(mix)))
    for i in range(n):
        kind = mix[i % len(mix)]
        folder = course / "submitted" / f"s{i:03d}"
        shutil.copytree(staging / corpus.STUDENTS[kind], folder)
        (folder / assignment / "timestamp.txt").write_text("2026-12-01 12:00:00.000000 UTC\n")
    os.chmod(tmp, 0o700)
    return course


def ours(course, workers, timings, code=ROOT):
    """Our grader's wall time on `course`; `code`: the checkout whose autograder runs (its
    course plugin and rnnlib are this one's)."""
    out = course.parent / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--out",
           str(out), "--workers", str(workers), "--quiet"] + (["--timings"] if timings else [])
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(code))
    run = subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(run.stderr)
    if timings:
        print(run.stderr.strip())
    return took


def stock(course, assignment, feedback):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    t0 = time.perf_counter()
    subprocess.run([nbgrader, "autograde", assignment, "--force", "--log-level=ERROR"],
                   cwd=course, env=env, capture_output=True, text=True)
    if feedback:
        subprocess.run([nbgrader, "generate_feedback", assignment, "--force",
                        "--log-level=ERROR"], cwd=course, env=env, capture_output=True,
                       text=True)
    return time.perf_counter() - t0


def gradebook_scores(course, assignment):
    """{student: total score} of `assignment` in the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        return {s.student.id: round(s.score, 6) for s in gb.assignment_submissions(assignment)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--assignment", default="02_rnn")
    parser.add_argument("--mix", default="full,blank", help="variants of tests/autograder_"
                        "corpus, in turn (e.g. full,full,wrong,blank,numpy,emptied,echo,crash)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stock-feedback", action="store_true",
                        help="count stock nbgrader's generate_feedback too")
    parser.add_argument("--timings", action="store_true", help="our time per stage")
    parser.add_argument("--baseline", metavar="CHECKOUT", help="also time the grader of "
                        "another checkout (e.g. a `git worktree` of an older revision) in "
                        "the same rounds")
    args = parser.parse_args()
    mix = args.mix.split(",")
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        master = build_course(tmp, args.assignment, args.n, mix)
        print(f"{args.n} submissions of {args.assignment} ({', '.join(mix)} in turn), "
              f"{args.workers} workers, {args.rounds} rounds; load average "
              f"{os.getloadavg()[0]:.1f}")
        contenders = ["ours", "stock"] + (["baseline"] if args.baseline else [])
        ratios = {who: [] for who in contenders if who != "stock"}
        for r in range(args.rounds):
            times, scores = {}, {}
            for who in contenders[r % len(contenders):] + contenders[:r % len(contenders)]:
                work = Path(tmp) / f"round{r}-{who}"
                shutil.copytree(master.parent / "course", work / "course")
                if who == "stock":
                    times[who] = stock(work / "course", args.assignment, args.stock_feedback)
                else:
                    code = Path(args.baseline).resolve() if who == "baseline" else ROOT
                    times[who] = ours(work / "course", args.workers,
                                      args.timings and r == 0 and who == "ours", code)
                scores[who] = gradebook_scores(work / "course", args.assignment)
                shutil.rmtree(work, ignore_errors=True)
            differ = [who for who in scores if scores[who] != scores["stock"]]
            if differ:
                print(f"round {r + 1}: WARNING: {', '.join(differ)} graded otherwise than stock "
                      "nbgrader (total per student in the gradebook), so their times measure "
                      f"other work: {({w: scores[w] for w in ['stock', *differ]})}")
            for who in ratios:
                ratios[who].append(times["stock"] / times[who])
            print(f"round {r + 1}: " + ", ".join(f"{w} {t:6.1f} s" for w, t in times.items())
                  + "; stock/ours " + ", ".join(f"{w} {v[-1]:.2f}" for w, v in ratios.items())
                  + f" (load {os.getloadavg()[0]:.1f})")
        for who, values in ratios.items():
            print(f"ratio {who}: median {statistics.median(values):.2f}, spread "
                  f"{min(values):.2f} to {max(values):.2f} over {len(values)} rounds (stock "
                  f"nbgrader autograde{' + generate_feedback' if args.stock_feedback else ''}"
                  f" / {who})")

if __name__ == "__main__":
    main()
