"""pytest settings for `pytest --nbval-lax solutions` (run by `make test`).

nbval runs a notebook's cells in order in one kernel, so all cells of a notebook must stay on
one pytest-xdist worker: with `-n 2` the default `load` distribution would scatter them (and a
cell would run in a kernel where the earlier cells never ran). Whole files go to one worker.
"""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"
