"""Keep the built book offline: local MathJax 3, and no script that names a remote host.

`scripts/install.sh` unpacks MathJax into `.venv/share/mathjax`. This extension copies the
`tex-chtml.js` entry point and the folders it loads on demand (TeX extensions, CHTML fonts,
the accessibility menu) into `_build/html/_mathjax/` once the HTML is written. MathJax is kept
out of `_static` on purpose: Jupyter Book adds every `.js` file under `_static` to every page.

`mathjax_path` in `_config.yml` is `../_mathjax/tex-chtml.js`: Sphinx joins a relative path
to `_static/` and then makes it relative to each page, so every page, at any depth, loads
`_build/html/_mathjax/tex-chtml.js` through a relative URL.

Jupyter Book always loads sphinx-thebe, whose inline configuration names a CDN URL for the
"launch Thebe" button. The book has no launch buttons, so `drop_remote_scripts` removes that
script (and the unused sphinx-thebe.js) from every page.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ENTRY = "tex-chtml.js"
# Everything tex-chtml.js may fetch after loading: \require'd or autoloaded TeX extensions,
# the woff fonts, the context menu and its accessibility tools.
FOLDERS = ("input", "output", "ui", "a11y", "sre", "adaptors")
TARGET = "_mathjax"


def mathjax_source(root: str | os.PathLike) -> Path:
    """The unpacked MathJax folder: $RNN_BOOK_MATHJAX, else .venv/share/mathjax at the root."""
    env = os.environ.get("RNN_BOOK_MATHJAX")
    return Path(env) if env else Path(root) / ".venv" / "share" / "mathjax"


def _copy_if_changed(src: Path, dst: Path) -> None:
    # A cached rebuild copies nothing: only missing or changed files are written.
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source(app.srcdir)
    if not (src / ENTRY).is_file():
        raise ExtensionError(
            f"offline MathJax: {src / ENTRY} is missing; run `make install` first"
        )
    out = Path(app.outdir) / TARGET
    _copy_if_changed(src / ENTRY, out / ENTRY)
    for folder in FOLDERS:
        for path in (src / folder).rglob("*"):
            if path.is_file():
                _copy_if_changed(path, out / path.relative_to(src))


def _is_remote_or_thebe(script) -> bool:
    filename = getattr(script, "filename", script) or ""
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "://" in str(filename) or "://" in body or "thebe" in str(filename)


def drop_remote_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        scripts[:] = [s for s in scripts if not _is_remote_or_thebe(s)]


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", copy_mathjax)
    # Late priority: runs after every other extension has added its scripts to the page.
    app.connect("html-page-context", drop_remote_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
