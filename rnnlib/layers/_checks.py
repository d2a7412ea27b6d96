"""The input checks the layers use. They live in the student package (``rnntools.checks``)
because the instructors' solution notebooks are generated from the layers' source and run in a
kernel without rnnlib; this module only gives them a name inside rnnlib."""

from rnntools.checks import FLOAT_DTYPES, dims, expect, expect_int

__all__ = ["FLOAT_DTYPES", "dims", "expect", "expect_int"]
