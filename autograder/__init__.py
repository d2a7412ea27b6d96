"""A sandboxed, parallel grader for nbgrader courses (see docs/grader.md)."""

from .deferred import defer_iri_syntax

defer_iri_syntax()
