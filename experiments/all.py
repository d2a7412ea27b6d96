"""`make results`: every training run whose numbers the book shows, one after another.

    python -m experiments.all                        # everything, in the order below
    python -m experiments.all copy_task cells        # only these experiments
    python -m experiments.all --resume cells         # continue an interrupted run
    python -m experiments.all --list                 # the names, and which can resume

Each step writes its own results file (results/README.md). On a quiet 2-core machine the
character-model experiments take roughly 45 minutes (the character model and its final
evaluation, four cell runs, the copy-task sweep, gradient norms, clipping), and captioning
adds its own (at most 30). On a shared machine wall-clock time grows with the load.
PyTorch is not needed: its comparison run is benchmarks/charlm_torch.py (`make bench`).

`--resume` is passed to the experiments that can continue (SUPPORTS_RESUME in their module:
they keep the finished parts of a partial results file, or continue from a checkpoint); the
others run again from the start, which takes at most a few minutes each.
"""

import argparse
import importlib
import sys
import time

# Experiments owned by other parts of the course, run when their module exists, with the
# arguments their command line needs.
OPTIONAL = {"book_gated": ["timing"], "captioning": []}
# Steps that run a module of another name with other arguments: name -> (module, arguments).
VARIANT_STEPS = {"captioning_nopenalty": ("captioning", ["--cells", "attention", "--ds-lambda",
                                                         "0", "--suffix", "_nopenalty"])}


def steps():
    """The experiment module names in the order they run."""
    names = ["copy_task", "gradnorm", "clipping", "cells", "charlm", "tagging", "wordlm"]
    for name in OPTIONAL:
        try:
            importlib.import_module(f"experiments.{name}")
            names.append(name)
            names += [v for v, (module, _) in VARIANT_STEPS.items() if module == name]
        except ModuleNotFoundError as err:
            if err.name != f"experiments.{name}":
                raise
    return names


def module_and_args(name):
    """The module a step runs and the arguments `make results` gives it."""
    if name in VARIANT_STEPS:
        module, argv = VARIANT_STEPS[name]
        return importlib.import_module(f"experiments.{module}"), list(argv)
    return importlib.import_module(f"experiments.{name}"), list(OPTIONAL.get(name, []))


def can_resume(name):
    """True if the step `name` continues an interrupted run when given --resume."""
    return getattr(module_and_args(name)[0], "SUPPORTS_RESUME", False)


def run_one(name, resume=False, log=print):
    """Run experiments.<name> with the arguments `make results` gives it; returns seconds."""
    module, argv = module_and_args(name)
    if resume and can_resume(name):
        argv.append("--resume")
    elif resume:
        log(f"== experiments.{name} cannot resume: it runs again from the start")
    t0 = time.perf_counter()
    log(f"== experiments.{name} {' '.join(argv)}".rstrip())
    # The results file records the experiment's own command (python -m experiments.NAME ...),
    # which reruns it alone and names the code that made it.
    saved, sys.argv = sys.argv, [module.__file__, *argv]
    try:
        module.main(argv)
    finally:
        sys.argv = saved
    seconds = time.perf_counter() - t0
    log(f"== experiments.{name} done in {seconds:.0f} s")
    return seconds


def main(argv=None):
    names = steps()
    ap = argparse.ArgumentParser(prog="python -m experiments.all",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"experiments to run (default: all): {', '.join(names)}")
    ap.add_argument("--resume", action="store_true",
                    help="continue interrupted runs where the experiment supports it")
    ap.add_argument("--list", action="store_true", help="list the experiments and stop")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        ap.error(f"unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.list:
        for name in names:
            print(f"{name:12s} {'resumes' if can_resume(name) else 'reruns'}")
        return
    for name in names:
        if not args.names or name in args.names:
            run_one(name, args.resume, log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
