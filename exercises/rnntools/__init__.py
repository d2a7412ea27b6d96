"""rnntools, the course's base package (NumPy only): what a student's notebook imports.

- ``rnntools.checks``: the input checks the layers call (shapes and dtypes, with messages that
  name the argument);
- ``rnntools.activations``: a numerically stable ``sigmoid``;
- ``rnntools.gradcheck``: numerical gradients and ``rel_error``, as in CS231n;
- ``rnntools.grading``: the grading protocol of the test cells (``case``, ``submit``,
  ``check``, ``fingerprint``) and the case generators (``rnntools.grading.cases``).

rnnlib is built on it; it imports neither rnnlib nor the grader, and it holds no graded
implementation.
"""

__version__ = "0.1.0"
