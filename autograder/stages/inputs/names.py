"""Which released notebook a submitted file is, and which student key a name may become.

Students rename notebooks by accident: ``RNN.ipynb``, ``rnn (1).ipynb`` (a second download),
``rnn-Copy1.ipynb`` (Jupyter's "Make a Copy"), ``rnn copy.ipynb`` (macOS), ``rnn-1.ipynb``
(Canvas's resubmission). All of these are the notebook ``rnn``.
"""

import re

#: One copy suffix; several may follow each other ("rnn-Copy1 (1)").
COPY = r"(?:\s*\(\d+\)|-copy\d*|[\s_-]+copy(?:\s*\d+)?|-\d+)"


def notebook_of(stem, names):
    """The notebook among `names` that a file with this stem is a version of, or None.

    A stem equal to a notebook's name (case aside) is that notebook, even when it also looks
    like a copy of another one (``part-2`` beside ``part``)."""
    low = stem.lower()
    exact = {n.lower(): n for n in names}
    if low in exact:
        return exact[low]
    for name in sorted(names, key=len, reverse=True):
        if re.fullmatch(re.escape(name.lower()) + f"(?:{COPY})+", low):
            return name
    return None


def owners(stem, plans, hint=None):
    """[(assignment, notebook)] that a notebook file's stem may be: within `hint` only when
    the download is known to hold that assignment."""
    assignments = [hint] if hint else sorted(plans)
    found = []
    for a in assignments:
        nb = notebook_of(stem, list(plans[a]))
        if nb is not None:
            found.append((a, nb))
    return found


def safe_key(text):
    """A student key usable as one folder name in OUT (ids come from file names and YAML)."""
    key = re.sub(r"[\x00-\x1f/\\]", "_", str(text)).strip()
    return "" if key in ("", ".", "..") else key
