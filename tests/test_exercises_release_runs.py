"""Every released notebook runs top to bottom in a fresh kernel and fails only at the stubs:
every error is the NotImplementedError of an unwritten function, never an earlier one (a
broken import or a missing file in the release would show up here), or the check after a
paste cell saying which earlier functions to paste."""

import nbformat
import pytest
from _exercises_util import EXERCISES, nbgrader_meta, released_notebooks
from nbclient import NotebookClient


@pytest.mark.parametrize("path", released_notebooks(), ids=lambda p: p.parent.name)
def test_release_fails_only_at_the_stubs(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors, messages = {}, {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors[nbgrader_meta(cell).get("grade_id", cell.get("id"))] = output.ename
                messages[nbgrader_meta(cell).get("grade_id")] = output.evalue
    assert errors, "the release raised nothing: are the stubs missing?"
    asks = messages.get("check_pasted", "paste ")
    assert all(line.startswith("paste ") for line in asks.splitlines()), asks
    wrong = {cell: name for cell, name in errors.items() if name != "NotImplementedError"
             and (cell, name) != ("check_pasted", "AssertionError")}
    assert not wrong, f"{path.relative_to(EXERCISES)}: errors before the stubs: {wrong}"
    # The stubs themselves only define functions: they must not raise.
    stubs = [nbgrader_meta(c)["grade_id"] for c in nb.cells
             if c.cell_type == "code" and nbgrader_meta(c).get("solution")]
    assert not set(stubs) & set(errors)
