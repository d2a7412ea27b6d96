"""The grader defers jsonschema's IRI checker (autograder/deferred.py): importing the grader
and nbformat no longer loads it, and the checker still answers as before once asked."""

import subprocess
import sys

import pytest

PROBE = """
import sys
import autograder, nbformat
assert 'rfc3987_syntax.syntax_helpers' not in sys.modules, 'the IRI parsers were built'
nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')]))
assert 'rfc3987_syntax.syntax_helpers' not in sys.modules, 'validation built them'
import jsonschema
check = jsonschema.FormatChecker()
print(check.conforms('http://example.org/caf\\u00e9', 'iri'),
      check.conforms('http://example.org/a b', 'iri'),
      check.conforms('#frag', 'iri-reference'))
import rfc3987_syntax
print(hasattr(rfc3987_syntax, 'RFC3987_SYNTAX_TERMS'))
"""


@pytest.mark.slow
def test_the_iri_checker_loads_on_first_use_and_answers_as_before():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "True", "True"]
