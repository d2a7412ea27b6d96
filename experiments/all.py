"""`make results`: every training run whose numbers the book shows, one after another.

Each step writes its own results file (results/README.md); the whole sequence takes about
40 minutes on a quiet 2-core machine (the character model alone 15). PyTorch is not needed:
its comparison run is benchmarks/charlm_torch.py (`make bench`).
"""

import importlib
import sys
import time


def steps():
    """The experiments in order, as (name, module); captioning joins when its module exists."""
    names = ["copy_task", "gradnorm", "clipping", "cells", "charlm"]
    try:
        importlib.import_module("experiments.captioning")
        names.append("captioning")
    except ModuleNotFoundError as err:
        if err.name != "experiments.captioning":
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
        module.main([])
        print(f"== experiments.{name} done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
