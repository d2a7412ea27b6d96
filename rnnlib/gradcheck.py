"""Numerical gradient checks (CS231n names). The single source is the student package
``rnntools.gradcheck``; rnnlib re-exports it so that course material can use either name."""

from rnntools.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]
