"""`make results`: every training run whose numbers the book shows, one after another.

Each step writes its own results file (results/README.md). On a quiet 2-core machine the
character-model experiments take roughly 45 minutes (the 15-minute character model and its
final evaluation, four 2-minute cell runs, the copy-task sweep, gradient norms, clipping), and
captioning adds its own (at most 30). On a shared machine wall-clock time grows with the load.
PyTorch is not needed: its comparison run is benchmarks/charlm_torch.py (`make bench`).
"""

import importlib
import sys
import time

# Experiments owned by other parts of the course, run when their module exists, with the
# arguments their command line needs.
OPTIONAL = {"book_gated": ["timing"], "captioning": []}


def steps():
    """The experiment module names in the order they run."""
    names = ["copy_task", "gradnorm", "clipping", "cells", "charlm"]
    for name in OPTIONAL:
        try:
            importlib.import_module(f"experiments.{name}")
            names.append(name)
        except ModuleNotFoundError as err:
            if err.name != f"experiments.{name}":
                raise
    return names


def main(argv=None):
    only = list(argv if argv is not None else sys.argv[1:])
    for name in steps():
        if only and name not in only:
            continue
        module = importlib.import_module(f"experiments.{name}")
        t0 = time.perf_counter()
        print(f"== experiments.{name}", flush=True)
        module.main(list(OPTIONAL.get(name, [])))
        print(f"== experiments.{name} done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
