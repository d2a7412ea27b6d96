"""A released notebook as a student opens it: JupyterLab (served from a copy of exercises/)
renders 02_rnn/rnn.ipynb in Chromium, its markdown and math included, and its first cells
run with Shift+Enter; the first visible test then says plainly that the stub is not written
yet."""

import json
import shutil

import pytest
from _exercises_util import EXERCISES, nbgrader_meta, read
from _jupyterlab import chromium, lab_server
from playwright.sync_api import TimeoutError as PlaywrightTimeout

NOTEBOOK = "02_rnn/rnn.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("jupyterlab")]


#: True once cell n's input prompt shows an execution count ("[3]:", not "[ ]:" or "[*]:").
RAN = """([s, n]) => /\\d/.test(
    document.querySelectorAll(s)[n].querySelector('.jp-InputPrompt').innerText)"""


def _upto_first_visible_test(nb):
    """The number of cells up to and including the first visible test cell."""
    for i, cell in enumerate(nb.cells):
        if nbgrader_meta(cell).get("grade_id", "").startswith("visible_"):
            return i + 1
    raise AssertionError("no visible test cell")


def test_a_released_notebook_renders_and_its_first_cells_run(tmp_path):
    shutil.copytree(EXERCISES, tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("rnntools", "__pycache__"))
    nb = read(EXERCISES / NOTEBOOK)
    count = _upto_first_visible_test(nb)
    # Every cell in the page: JupyterLab 4 otherwise renders only the cells in view.
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    with lab_server(tmp_path / "exercises", settings=tmp_path / "settings") as url, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/lab/tree/{NOTEBOOK}")
        selector = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
        cells = page.locator(selector)
        cells.first.wait_for(timeout=120_000)
        page.wait_for_function("([s, n]) => document.querySelectorAll(s).length >= n",
                               arg=[selector, len(nb.cells)], timeout=60_000)
        assert cells.count() == len(nb.cells)
        assert page.locator(".jp-RenderedMarkdown h1").first.inner_text().startswith(
            "Assignment 2")
        # Math typeset by MathJax (in the page: no math left as $...$ text).
        page.locator(".jp-RenderedMarkdown mjx-container").first.wait_for(timeout=60_000)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
            timeout=120_000)
        # The indicator is idle before the kernel has answered: an execution sent then is
        # dropped. The status bar says "Idle" once the kernel is connected.
        page.get_by_text("| Idle").first.wait_for(timeout=120_000)
        cells.first.click()
        page.keyboard.press("Escape")
        for _ in range(count):
            page.keyboard.press("Shift+Enter")
        last = cells.nth(count - 1)
        # JupyterLab shows an exception as stderr output and then stops running the queue.
        raised = "[data-mime-type='application/vnd.jupyter.stderr']"
        last.locator(".jp-OutputArea-output").first.or_(
            cells.locator(raised).first).wait_for(timeout=120_000)
        code = [i for i, c in enumerate(nb.cells[:count]) if c.cell_type == "code"]
        early = {i: cells.nth(i).locator(raised).inner_text() for i in code[:-1]
                 if cells.nth(i).locator(raised).count()}
        assert not early, f"the first cells raised: {early}"
        for i in code:
            # A cell's prompt gets its execution count from a message of its own: on a loaded
            # machine it can arrive after the later cells' outputs, so wait for it.
            try:
                page.wait_for_function(RAN, arg=[selector, i], timeout=30_000)
            except PlaywrightTimeout:
                prompt = cells.nth(i).locator(".jp-InputPrompt").inner_text()
                raise AssertionError(f"cell {i} did not run: its prompt is {prompt!r}") from None
        assert "NotImplementedError" in last.locator(".jp-OutputArea").inner_text()
        assert not errors, errors
