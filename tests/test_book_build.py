"""The book: it builds with every warning an error, reads offline, shows its figures, and leaks
nothing a student must write (issue 4).

The build is shared: `built_book` runs `jupyter-book build . -W -n --keep-going` at most once
for any number of pytest-xdist workers (a file lock, then a stamp holding the hash of every
source file of the book). A second run with nothing changed reuses `_build/html` at once.
The browser tests drive Debian's /usr/bin/chromium through Playwright's Python API and serve
`_build/html` from a local http.server on 127.0.0.1.
"""

from __future__ import annotations

import ast
import hashlib
import http.server
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import threading
import time
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import portalocker
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
STAMP = ROOT / "_build" / ".book-sources.sha256"
LOCK = ROOT / "_build" / ".book-build.lock"
LOG = ROOT / "_build" / "book-build.log"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
BUILD_TIMEOUT_S = 20 * 60

pytestmark = pytest.mark.book


# ---------------------------------------------------------------------------------------------
# Building once
# ---------------------------------------------------------------------------------------------
def chapter_sources() -> list[Path]:
    """The chapter files `_toc.yml` lists, in order (root first)."""
    names = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)\s*$", (ROOT / "_toc.yml").read_text(), re.M)
    return [ROOT / f"{name}.md" for name in names]


def book_inputs() -> list[Path]:
    """Every file whose change can change the built book."""
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "scripts" / "build_book.sh"]
    folders = (ROOT / "book", ROOT / "results", ROOT / "rnnlib", ROOT / "rnntools")
    for folder in folders:
        if folder.is_dir():
            files += [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def sources_hash() -> str:
    digest = hashlib.sha256()
    for path in book_inputs():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_book() -> float:
    """Build into _build/html unless an earlier successful build saw the same sources.

    Returns the build time in seconds (0.0 when the previous build was reused)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with portalocker.Lock(str(LOCK), timeout=BUILD_TIMEOUT_S + 60):
        want = sources_hash()
        if STAMP.exists() and STAMP.read_text() == want and (HTML / "index.html").exists():
            return 0.0
        STAMP.unlink(missing_ok=True)
        env = {**os.environ, "JB": str(Path(sys.executable).parent / "jupyter-book")}
        start = time.perf_counter()
        with LOG.open("w") as log:
            proc = subprocess.run(
                ["bash", "scripts/build_book.sh"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S,
            )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            lines = LOG.read_text(errors="replace").splitlines()
            problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
            pytest.fail(
                f"jupyter-book build -W -n failed (exit {proc.returncode}); log in {LOG}:\n"
                + "\n".join((problems or lines)[-40:])
            )
        STAMP.write_text(want)
        return elapsed


@pytest.fixture(scope="session")
def built_book() -> Path:
    build_book()
    return HTML


def chapter_pages() -> list[Path]:
    return [HTML / src.relative_to(ROOT).with_suffix(".html") for src in chapter_sources()]


def all_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html")
                  if "_mathjax" not in p.parts and "_static" not in p.parts)


class _PageParser(HTMLParser):
    """Collects the URLs a page asks the browser to load and its visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []  # src of script/img/iframe, href of stylesheet/icon links
        self.images: list[str] = []
        self.output_images = 0
        self.text: list[str] = []
        self._skip = 0  # inside <script>/<style>
        self._depth_output = 0  # inside a cell output <div>
        self._stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower()
            kinds = ("stylesheet", "icon", "preload", "prefetch", "modulepreload")
            if any(r in rel for r in kinds):
                self.loads.append(a["href"])
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
            if self._depth_output:
                self.output_images += 1
        if tag == "div":
            is_output = "cell_output" in (a.get("class") or "").split()
            self._stack.append(is_output)
            self._depth_output += is_output

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag == "div" and self._stack:
            self._depth_output -= self._stack.pop()

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse_page(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# The build and its pages
# ---------------------------------------------------------------------------------------------
def test_every_chapter_in_the_toc_is_built(built_book):
    pages = chapter_pages()
    missing = [str(p.relative_to(HTML)) for p in pages if not p.exists()]
    assert not missing, f"chapters listed in _toc.yml but not built: {missing}"
    assert len(pages) >= 11
    # only_build_toc_files: nothing outside the TOC becomes a page (no README, no notebooks).
    extra = {p.relative_to(HTML) for p in all_pages()} - {
        p.relative_to(HTML) for p in pages
    } - {Path("index.html"), Path("search.html"), Path("genindex.html")}
    assert not extra, f"pages that are not in _toc.yml: {sorted(map(str, extra))}"


def test_no_page_loads_anything_from_another_host(built_book):
    remote = {}
    for page in all_pages():
        hits = [u for u in parse_page(page).loads if urlparse(u).scheme in ("http", "https")
                or u.startswith("//")]
        # sphinx-thebe's inline config names a CDN; book/conf_extra/offline.py removes it.
        if "unpkg.com" in page.read_text(encoding="utf-8"):
            hits.append("unpkg.com (thebe)")
        if hits:
            remote[str(page.relative_to(HTML))] = hits
    assert not remote, f"pages that name a remote resource: {remote}"


def test_mathjax_is_local_and_referenced_relatively(built_book):
    entry = HTML / "_mathjax" / "tex-chtml.js"
    assert entry.is_file() and entry.stat().st_size > 100_000
    fonts = list((HTML / "_mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) > 10
    # MathJax must not sit under _static, where Jupyter Book would add it to every page.
    assert not list((HTML / "_static").rglob("tex-chtml*.js"))
    pages_with_math = 0
    for page in chapter_pages():
        html = page.read_text(encoding="utf-8")
        srcs = [u for u in parse_page(page).loads if "tex-chtml" in u]
        if 'class="math' not in html:
            continue
        pages_with_math += 1
        assert srcs, f"{page.name} has math but does not load MathJax"
        for src in srcs:
            target = (page.parent / src.split("?")[0]).resolve()
            assert target == entry.resolve(), f"{page.name}: {src} does not point at {entry}"
    assert pages_with_math >= 4


def _code_cells(source: Path) -> list[str]:
    text = source.read_text(encoding="utf-8")
    return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.M | re.S)


def test_every_figure_exists(built_book):
    problems = []
    for source, page in zip(chapter_sources(), chapter_pages(), strict=True):
        parsed = parse_page(page)
        for src in parsed.images:
            if urlparse(src).scheme == "data":
                continue
            target = page.parent / src.split("#")[0].split("?")[0]
            if not target.is_file() or target.stat().st_size < 200:
                problems.append(f"{page.name}: image {src} missing or empty")
        # Every unconditional plt.show() (at the top level of a cell) must leave a figure in the
        # executed output; a chapter that draws at all must show at least one.
        cells = _code_cells(source)
        shows = sum(len(re.findall(r"^plt\.show\(\)", c, re.M)) for c in cells)
        draws = [c for c in cells if re.search(r"\bplt\.|\.plot\(|imshow\(", c)]
        if parsed.output_images < shows:
            problems.append(f"{page.name}: {shows} figures drawn, {parsed.output_images} shown")
        if draws and parsed.output_images == 0:
            problems.append(f"{page.name}: {len(draws)} plotting cells but no figure in the output")
        # Every SVG diagram the chapter names is in the build.
        for svg in re.findall(r"figures/([\w.-]+\.svg)", source.read_text(encoding="utf-8")):
            if not any(Path(s).name == svg for s in parsed.images):
                problems.append(f"{page.name}: diagram {svg} not shown")
    assert not problems, "\n".join(problems)


def test_no_code_cell_failed(built_book):
    # allow_errors is false, so a failing cell already fails the build; this catches a
    # traceback that reached a page some other way (e.g. raises-exception tags).
    bad = [p.name for p in chapter_pages() if "Traceback (most recent call last)" in
           p.read_text(encoding="utf-8")]
    assert not bad, f"pages showing a traceback: {bad}"


def test_glossary_links_resolve_to_chapters(built_book):
    page = HTML / "book" / "glossary.html"
    html = page.read_text(encoding="utf-8")
    links = re.findall(r'<a class="reference internal" href="([^"]+)"', html)
    chapter_links = [u for u in links if re.match(r"(\.\./book/|)\d\d_\w+\.html", u)]
    assert len(chapter_links) >= 30, f"only {len(chapter_links)} glossary links to chapters"
    for url in chapter_links:
        path, _, anchor = url.partition("#")
        target = (page.parent / path).resolve()
        assert target.is_file(), url
        if anchor:
            assert f'id="{anchor}"' in target.read_text(encoding="utf-8"), url


def test_bibliography_lists_the_papers(built_book):
    # The bibliography style lower-cases titles, so compare without case.
    text = squash(" ".join(parse_page(HTML / "book" / "bibliography.html").text)).lower()
    for needle in ("Finding Structure in Time", "Long Short-Term Memory",
                   "Recurrent Nets that Time", "Learning Precise Timing", "Encoder",
                   "On the Difficulty of Training",
                   "Show and Tell", "Show, Attend and Tell", "Unreasonable Effectiveness"):
        assert needle.lower() in text, needle


# ---------------------------------------------------------------------------------------------
# Leaks: no graded function's body, no hidden test
# ---------------------------------------------------------------------------------------------
def rnnlib_functions() -> dict[str, str]:
    """Source of every function and method defined in rnnlib (the graded ones and the rest):
    the book teaches by calling rnnlib, so none of its bodies belongs on a page."""
    import rnnlib

    found: dict[str, str] = {}
    modules = [rnnlib] + [
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(rnnlib.__path__, prefix="rnnlib.")
    ]
    for module in modules:
        for name, obj in vars(module).items():
            targets = []
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                targets.append((f"{module.__name__}.{name}", obj))
            elif inspect.isclass(obj) and obj.__module__ == module.__name__:
                targets += [(f"{module.__name__}.{name}.{m}", f) for m, f in vars(obj).items()
                            if inspect.isfunction(f)]
            for qualname, func in targets:
                try:
                    found[qualname] = inspect.getsource(func)
                except (OSError, TypeError):
                    pass
    return found


def body_lines(source: str) -> list[str]:
    """The statements of a function body, one squashed line each, without its docstring,
    comments, blank lines and the bare `return` lines that say nothing about the method."""
    tree = ast.parse(inspect.cleandoc("\n" + source) if source[:1].isspace() else source)
    func = tree.body[0]
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant):
        body = body[1:]
    if not body:
        return []
    lines = ast.get_source_segment(
        inspect.cleandoc("\n" + source) if source[:1].isspace() else source, func
    ).splitlines()
    first = body[0].lineno - func.lineno
    out = []
    for line in lines[first:]:
        line = line.split("#", 1)[0].strip() if not line.strip().startswith(("'", '"')) else line
        line = squash(line)
        if len(line) >= 12 and line not in ("else:", "try:", "finally:"):
            out.append(line)
    return out


def leaked(lines: list[str], page_text: str, window: int = 3) -> str | None:
    """The first run of `window` consecutive body lines found together in the page text."""
    if len(lines) < 2:
        return None
    window = min(window, len(lines))
    for i in range(len(lines) - window + 1):
        chunk = " ".join(lines[i:i + window])
        if chunk in page_text:
            return chunk
    return None


def hidden_test_lines() -> list[str]:
    """Distinctive lines of every hidden test cell in the instructors' notebooks."""
    lines = []
    for nb_path in sorted((ROOT / "solutions").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb_path.parts:
            continue
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            src = "".join(cell.get("source", []))
            for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", src, re.S):
                lines += [squash(ln) for ln in block.splitlines() if len(squash(ln)) >= 25]
    return lines


def page_texts() -> dict[str, str]:
    # Code is highlighted into many <span>s: the visible text, squashed, is what a reader sees.
    return {str(p.relative_to(HTML)): squash(" ".join(parse_page(p).text)) for p in all_pages()}


def test_leak_detector_catches_a_copied_body():
    # The detector itself must be able to fail: a page quoting a function body is caught,
    # and a page that only calls the function is not.
    src = '''def f(x, w, b):
    """Docstring."""
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w, b)  # for the backward pass
    return out, cache
'''
    lines = body_lines(src)
    assert lines == ["out = x.reshape(x.shape[0], -1) @ w + b", "cache = (x, w, b)",
                     "return out, cache"]
    copied = squash("<p>Look:</p> out = x.reshape(x.shape[0], -1)  @ w + b\n  cache = (x, w, b)\n"
                    " return out, cache")
    assert leaked(lines, copied) is not None
    assert leaked(lines, "out, cache = f(x, w, b) print(out.shape)") is None


def test_built_book_shows_no_rnnlib_source(built_book):
    functions = rnnlib_functions()
    texts = page_texts()
    leaks = []
    for qualname, source in functions.items():
        lines = body_lines(source)
        for page, text in texts.items():
            hit = leaked(lines, text)
            if hit:
                leaks.append(f"{page}: body of {qualname}: {hit[:120]!r}")
    assert not leaks, "\n".join(leaks)


def test_built_book_shows_no_hidden_test(built_book):
    hidden = hidden_test_lines()
    leaks = []
    for page, text in page_texts().items():
        if "BEGIN HIDDEN TESTS" in text or "END HIDDEN TESTS" in text:
            leaks.append(f"{page}: hidden-test marker")
        leaks += [f"{page}: {line[:100]!r}" for line in hidden if line in text]
    assert not leaks, "\n".join(leaks)


def test_no_source_pages_or_downloads(built_book):
    # No viewcode-style module pages, no copied .md/.ipynb sources, no download buttons.
    assert not (HTML / "_modules").exists()
    assert not (HTML / "_sources").exists() or not any((HTML / "_sources").rglob("*.md"))
    assert not list(HTML.rglob("*.ipynb"))


# ---------------------------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built_book):
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(built_book))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system` (scripts/install-system.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


def _open(browser, url: str, origin: str):
    """Load url; return (page, requests to other hosts, console errors)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    foreign, errors = [], []

    def on_request(request):
        u = request.url
        if not (u.startswith(origin + "/") or u.split(":", 1)[0] in ("data", "blob", "about")):
            foreign.append(u)

    page.on("request", on_request)
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Anything that would leave the machine is refused (and recorded by on_request first).
    page.route(re.compile(r"^(?!" + re.escape(origin) + r"/|data:|blob:).*"),
               lambda route: route.abort())
    page.goto(url, wait_until="load", timeout=60_000)
    return context, page, foreign, errors


MATHJAX_DONE = """async () => {
  if (!window.MathJax) return 'none';
  if (!MathJax.startup || !MathJax.startup.promise) return 'pending';
  await MathJax.startup.promise;
  return 'done';
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_pages_in_chromium(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    problems = []
    shots = {"book/02_rnn.html": "book-02_rnn.png", "book/04_bptt.html": "book-04_bptt.png"}
    for path in chapter_pages():
        rel = path.relative_to(HTML).as_posix()
        context, page, foreign, errors = _open(browser, f"{server}/{rel}", server)
        try:
            has_math = 'class="math' in path.read_text(encoding="utf-8")
            state = page.evaluate(MATHJAX_DONE)
            if has_math:
                if state != "done":
                    problems.append(f"{rel}: MathJax did not start ({state})")
                n = page.locator("mjx-container").count()
                if n == 0:
                    problems.append(f"{rel}: math on the page but no mjx-container")
                body = page.locator("article").inner_text()
                if "$$" in body or "\\[" in body:
                    problems.append(f"{rel}: raw TeX left on the page")
                if page.locator("mjx-merror").count():
                    problems.append(f"{rel}: MathJax reported a TeX error")
            if rel in shots:
                page.screenshot(path=str(ARTIFACTS / shots[rel]), full_page=False)
            if foreign:
                problems.append(f"{rel}: requests to other hosts: {foreign[:5]}")
            if errors:
                problems.append(f"{rel}: console errors: {errors[:5]}")
        finally:
            context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_front_page_opens_the_preface(server, browser):
    context, page, foreign, errors = _open(browser, f"{server}/index.html", server)
    try:
        page.wait_for_url(re.compile(r"book/00_preface\.html"), timeout=30_000)
        assert page.locator("h1").first.inner_text().strip().startswith("Preface")
        assert not foreign, foreign
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.browser
def test_search_page_finds_a_term(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, foreign, errors = _open(browser, f"{server}/search.html", server)
    try:
        field = page.locator(".bd-search-container form input[name='q']").first
        field.fill("gradient")
        field.press("Enter")
        page.wait_for_url(re.compile(r"search\.html\?q=gradient"), timeout=30_000)
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=60_000)
        hrefs = [a.get_attribute("href") for a in page.locator("#search-results li a").all()]
        assert any("04_bptt" in (h or "") for h in hrefs), hrefs
        page.screenshot(path=str(ARTIFACTS / "book-search.png"))
        assert not foreign, foreign
        assert not errors, errors
    finally:
        context.close()


def test_diagrams_match_their_generator(tmp_path):
    # The committed SVGs of chapters 2 and 4 are what book/figures/make_ch02_04.py draws.
    spec = importlib.util.spec_from_file_location(
        "make_ch02_04", ROOT / "book" / "figures" / "make_ch02_04.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.unrolled(tmp_path)
    module.bptt(tmp_path)
    for name in ("ch02_unrolled.svg", "ch04_bptt.svg"):
        drawn = (tmp_path / name).read_text()
        assert drawn.startswith("<svg") and drawn.count("<rect") >= 10
        assert drawn == (ROOT / "book" / "figures" / name).read_text(), name


def test_artifacts_folder_is_ignored():
    # Screenshots are test artifacts, never committed.
    assert "/artifacts/" in (ROOT / ".gitignore").read_text()
    assert shutil.which("git") is None or subprocess.run(
        ["git", "check-ignore", "-q", "artifacts/x.png"], cwd=ROOT
    ).returncode == 0



def executed_chapters():
    """(source, executed notebook) of every chapter the build executed."""
    folder = ROOT / "_build" / "jupyter_execute" / "book"
    return [(src, folder / f"{src.stem}.ipynb") for src in chapter_sources()
            if src.suffix == ".md" and (folder / f"{src.stem}.ipynb").exists()]


def test_chapters_state_only_numbers_their_cells_produce(built_book):
    """docs/CONVENTIONS.md, "Claims": a decimal number or percentage in a chapter's prose
    must occur in an output of that chapter's cells (printed, or glued into the text)."""
    from _book_claims import check_chapter

    chapters = executed_chapters()
    assert len(chapters) >= 9, "the build executed fewer chapters than expected"
    bad = {src.name: check_chapter(src, nb) for src, nb in chapters}
    bad = {name: lines for name, lines in bad.items() if lines}
    assert not bad, f"numbers the prose states and no cell produces: {bad}"


def test_claims_rule_fails_on_a_claim_planted_in_a_chapter(built_book, tmp_path):
    from _book_claims import check_chapter

    src, nb = next((s, n) for s, n in executed_chapters() if s.stem == "04_bptt")
    planted = tmp_path / src.name
    planted.write_text(src.read_text(encoding="utf-8")
                       + "\nWithout clipping the loss ends at 9.8765 nats.\n", encoding="utf-8")
    assert check_chapter(src, nb) == []
    assert [line.split(": ")[1] for line in check_chapter(planted, nb)] == ["9.8765"]
