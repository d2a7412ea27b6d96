"""A slow import the grader never needs, deferred to its first use.

nbformat imports jsonschema, whose format checkers import ``rfc3987_syntax`` at once; that
module compiles some 35 Earley parsers when imported: 3 s of every grader start on this
machine, 14 s under load, for the ``iri`` formats that no notebook schema uses (reported as
python-jsonschema/jsonschema#1428, not fixed in 4.26). A stand-in module answers jsonschema's
import and loads the real one the first time anything uses it, so nothing changes but when.
"""

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


def defer_iri_syntax():
    """Put the stand-in in place, unless the real module is loaded or not installed."""
    if NAME in sys.modules or importlib.util.find_spec(NAME) is None:
        return
    loaded = []

    def real():
        if not loaded:
            if sys.modules.get(NAME) is stand_in:
                del sys.modules[NAME]
            loaded.append(importlib.import_module(NAME))
        return loaded[0]

    def is_valid_syntax(term, value):
        return real().is_valid_syntax(term, value)

    stand_in = types.ModuleType(NAME, "stand-in: the real module loads on first use")
    stand_in.is_valid_syntax = is_valid_syntax
    stand_in.__getattr__ = lambda attr: _forward(real, attr)
    sys.modules[NAME] = stand_in


def _forward(real, attr):
    # The import system asks modules for dunder names (``__path__`` in ``from X import Y``):
    # answering those must not load the real module.
    if attr.startswith("__"):
        raise AttributeError(attr)
    return getattr(real(), attr)
