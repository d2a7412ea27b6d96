"""rnntools: what students need beside the exercise notebooks (gradient checks, data loading,
plotting and the grading hooks of the test cells). It holds no graded implementation."""

__version__ = "0.1.0"
