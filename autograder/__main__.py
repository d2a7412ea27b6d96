"""Command line: ``python -m autograder grade ...`` and ``python -m autograder export ...``."""

import argparse
import os
import sys

from .io import GraderError


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in the help, but only where the help does not already say what
    the default is, and never "(default: None)" or "(default: False)" for an option that is
    simply off unless given."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _grade_parser(sub):
    g = sub.add_parser("grade", help="grade a folder or zip of submissions",
                       formatter_class=_Defaults)
    g.add_argument("submissions", nargs="?",
                   help="nbgrader layout folder, a .zip of it, or an LMS download (default: "
                        "the course's submitted/ folder)")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--source", help="nbgrader source folder (default: the course's "
                                    "CourseDirectory.source_directory)")
    g.add_argument("--course", help="the course root holding nbgrader_config.py; naming it "
                                    "also writes nbgrader's folders and gradebook there "
                                    "(default: the folder above --source, else this folder)")
    g.add_argument("--plugin", help="the course's grader plugin, module:Class (default: "
                                    "c.Autograder.plugin in the course's nbgrader_config.py)")
    g.add_argument("--roster", help="class list (CSV with an id column): students on it who "
                                    "handed in nothing are listed as missing")
    g.add_argument("--assignment", action="append",
                   help="grade only this assignment (repeatable; default: the assignments "
                        "submitted, and those c.Autograder.assignments names)")
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per cell")
    g.add_argument("--memory", type=int, default=2048, help="MB per student kernel")
    g.add_argument("--disk", type=int, default=256,
                   help="MB a notebook may write inside the sandbox")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="notebooks graded at the same time on this machine")
    g.add_argument("--scheduler", help="address of a dask.distributed scheduler")
    g.add_argument("--gradebook", help="nbgrader gradebook URL, e.g. sqlite:///gradebook.db")
    g.add_argument("--resume", action="store_true", help="grade only what is missing in OUT")
    g.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    g.add_argument("--timings", action="store_true",
                   help="print the wall time of each stage (to stderr)")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run student code without the bubblewrap sandbox (trusted "
                        "submissions only; still never as root)")


def _gradescope_parsers(sub):
    from .gradescope import VISIBILITIES

    z = sub.add_parser("gradescope-zip", help="build the autograder zip Gradescope accepts",
                       formatter_class=_Defaults)
    z.add_argument("assignment", help="the assignment (a folder of --source)")
    z.add_argument("--source", default="solutions", help="nbgrader source folder")
    z.add_argument("--course", help="the course root holding nbgrader_config.py "
                                    "(default: the folder above --source)")
    z.add_argument("--out", help="the zip to write (default: ASSIGNMENT-gradescope.zip)")
    z.add_argument("--timeout", type=float, default=30.0, help="seconds per cell")
    z.add_argument("--memory", type=int, default=2048, help="MB per student kernel")
    z.add_argument("--visible", default="visible", choices=VISIBILITIES,
                   help="Gradescope visibility of tests without hidden lines")
    z.add_argument("--hidden", default="after_published", choices=VISIBILITIES,
                   help="Gradescope visibility of tests with hidden lines")
    r = sub.add_parser("gradescope-run", help="what run_autograder calls on Gradescope")
    r.add_argument("--root", default="/autograder", help="Gradescope's /autograder folder")


def _gradescope(args):
    from . import gradescope

    if args.command == "gradescope-run":
        gradescope.run(args.root)
        return
    from .settings import Settings

    settings = Settings(".", ".", source=args.source, course=args.course,
                        timeout=args.timeout, memory=args.memory)
    dest = gradescope.build_zip(args.assignment, settings,
                                args.out or f"{args.assignment}-gradescope.zip",
                                args.visible, args.hidden)
    print(f"wrote {dest}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Grade nbgrader notebooks safely and in parallel.")
    sub = parser.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    f = sub.add_parser("feedback", help="re-render a course's feedback/ pages from its "
                                         "autograded notebooks and gradebook (after manual "
                                         "grading), for `nbgrader release_feedback`")
    f.add_argument("--course", default=".", help="the course root (nbgrader_config.py)")
    f.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    e = sub.add_parser("export", help="convert OUT/grades.csv to another format")
    e.add_argument("out", help="the OUT folder of a grading run")
    e.add_argument("--format", required=True, choices=["gradescope", "csv", "nbgrader"])
    e.add_argument("--to", help="destination (folder, .csv file or gradebook URL)")
    e.add_argument("--source", default="solutions", help="nbgrader source folder (nbgrader)")
    _gradescope_parsers(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "grade":
            from .pipeline import run
            run(args.submissions, args.out, source=args.source, assignments=args.assignment,
                timeout=args.timeout, memory=args.memory, disk=args.disk, workers=args.workers,
                scheduler=args.scheduler, gradebook=args.gradebook, resume=args.resume,
                progress=not args.quiet, no_sandbox=args.no_sandbox, plugin=args.plugin,
                course=args.course, roster=args.roster, timings=args.timings)
        elif args.command == "feedback":
            from .pipeline import course_feedback
            pages = course_feedback(args.course, args.assignment)
            print(f"wrote {len(pages)} feedback pages")
        elif args.command == "export":
            from .stages.export import convert
            print(convert(args.out, args.format, args.to, args.source))
        else:
            _gradescope(args)
    except GraderError as err:
        print(f"autograder: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
