"""The book's layout rules that can be read from a chapter's MyST source (issue 12, point 5).

- **Width.** Every line of a code cell or code block is at most `CODE_WIDTH` columns, so at
  1280 px it fits the code box without a sideways scroll bar (docs/CONVENTIONS.md, "Pages",
  says how the width was measured; `tests/test_book_layout.py` checks it on the built page).
- **Plotting code hidden.** A cell that draws a figure carries `tags: [hide-input]` (or
  `remove-input`), and a hide-input cell only draws: it prints nothing, asserts nothing,
  glues nothing and calls nothing from rnnlib, so what a chapter computes stays visible.
- **Alt text.** A cell that draws gives its figures alt text (`mystnb: image: alt:`), and every
  `{figure}` has `:alt:`; an alt text is a description of a few words, not a file name.

Run as a script to list every offending line of the chapters named (all chapters without
arguments)::

    .venv/bin/python tests/_book_layout.py book/03_char_lm.md book/05_lstm.md
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The narrowest code box at 1280 px holds 75 characters of the theme's monospace font: a
# hide-input cell (634 px inside its padding, 8.43 px per character of DejaVu Sans Mono at
# 14 px); a visible cell holds 77. test_book_layout.py measures both on the built page.
CODE_WIDTH = 75
HIDDEN = ("hide-input", "remove-input")
DRAWS = re.compile(r"^\s*plt\.show\(\)|\bplt\.(?:subplots|figure)\(", re.M)
# Computation a hide-input cell must not hide: what it prints, asserts or glues, and rnnlib.
COMPUTES = re.compile(r"^\s*(?:print\(|assert\b|glue\()|\bdisplay\(", re.M)
MIN_ALT_WORDS = 5
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


@dataclass
class Block:
    """A code cell (`{code-cell}`) or a code block of a chapter."""

    kind: str  # "cell" or "code"
    fence: int  # line number of the opening fence
    options: dict = field(default_factory=dict)
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, code)

    @property
    def code(self) -> str:
        return "\n".join(text for _, text in self.lines)

    @property
    def tags(self) -> list[str]:
        return list(self.options.get("tags") or [])


def columns(text: str) -> int:
    """The width of a line in monospace columns (wide East Asian characters count twice)."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _cell_options(body: list[tuple[int, str]]) -> tuple[dict, list[tuple[int, str]]]:
    """Split a code cell's body into its options (`---` YAML block or `:key: value` lines)."""
    if body and body[0][1].strip() == "---":
        end = next(i for i in range(1, len(body)) if body[i][1].strip() == "---")
        options = yaml.safe_load("\n".join(t for _, t in body[1:end])) or {}
        return options, body[end + 1:]
    options, i = {}, 0
    while i < len(body) and re.match(r"^:[\w-]+:", body[i][1]):
        key, _, value = body[i][1][1:].partition(":")
        options[key] = yaml.safe_load(value) if value.strip() else None
        i += 1
    return options, body[i:]


def blocks(markdown: str) -> list[Block]:
    """Every code cell and code block of a chapter, with source line numbers."""
    return _blocks(markdown.splitlines(), 0, None)


def _blocks(lines: list[str], start: int, stop: int | None) -> list[Block]:
    found, i, stop = [], start, len(lines) if stop is None else stop
    while i < stop:
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, info = m.group(1), m.group(2).strip()
        end = next((j for j in range(i + 1, stop) if lines[j].strip() == ticks), stop)
        body = [(j + 1, lines[j]) for j in range(i + 1, end)]
        if info.startswith("{code-cell}"):
            options, code = _cell_options(body)
            found.append(Block("cell", i + 1, options, code))
        elif not info.startswith("{") or info.startswith(("{code-block}", "{code}")):
            found.append(Block("code", i + 1, {}, body))
        else:  # a directive (figure, note, ...): code blocks may sit inside it
            found += _blocks(lines, i + 1, end)
        i = end + 1
    return found


def too_wide(markdown: str, width: int = CODE_WIDTH) -> list[str]:
    """Lines of code wider than `width` columns (the code of a remove-input cell is never
    on the page)."""
    return [f"line {n}: {columns(text)} columns: {text.strip()[:60]}"
            for block in blocks(markdown) if "remove-input" not in block.tags
            for n, text in block.lines if columns(text) > width]


def draws(block: Block) -> bool:
    return block.kind == "cell" and DRAWS.search(block.code) is not None


def rnnlib_names(markdown: str) -> set[str]:
    """Names a chapter's cells import from rnnlib (functions, classes and modules)."""
    names = set()
    for block in blocks(markdown):
        if block.kind != "cell":
            continue
        try:
            tree = ast.parse(block.code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnlib"):
                names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.asname or a.name for a in node.names if a.name.startswith("rnnlib")}
    return names


def _calls(code: str, names: set[str]) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    called = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name) and func.id in names:
                called.append(func.id)
    return sorted(set(called))


def plotting_not_hidden(markdown: str) -> list[str]:
    """Cells that draw but show their code, and hide-input cells that compute."""
    problems, library = [], rnnlib_names(markdown)
    for block in blocks(markdown):
        if block.kind != "cell":
            continue
        hidden = [t for t in block.tags if t in HIDDEN]
        if draws(block) and not hidden:
            problems.append(f"line {block.fence}: a cell that draws shows its code "
                            "(tag it hide-input; split off what it computes)")
        if "hide-input" in hidden:
            what = [m.group(0).strip() for m in COMPUTES.finditer(block.code)]
            what += [f"{name}(...)" for name in _calls(block.code, library)]
            if what:
                problems.append(f"line {block.fence}: a hide-input cell computes "
                                f"({', '.join(sorted(set(what)))}): move that to a visible cell")
    return problems


def alt_problem(alt) -> str | None:
    """Why an alt text does not describe its figure, or None."""
    alt = " ".join(str(alt or "").split())
    if not alt:
        return "no alt text"
    if re.search(r"\.(?:png|svg|jpe?g|gif|pdf)\b|_images/|^[\w./-]+$", alt):
        return f"alt text {alt[:40]!r} is a file name"
    if len(alt.split()) < MIN_ALT_WORDS:
        return f"alt text {alt!r} has fewer than {MIN_ALT_WORDS} words"
    return None


def figures_without_alt(markdown: str) -> list[str]:
    """Drawing cells without `mystnb: image: alt:` and `{figure}`s without `:alt:`."""
    problems = []
    for block in blocks(markdown):
        if draws(block):
            alt = ((block.options.get("mystnb") or {}).get("image") or {}).get("alt")
            why = alt_problem(alt)
            if why:
                problems.append(f"line {block.fence}: a cell that draws: {why} "
                                "(give it `mystnb: image: alt:`)")
    for m in re.finditer(r"^(`{3,}|:{3,})\{figure\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)",
                         markdown, re.M):
        alt = re.search(r"^:alt:(.*)$", m.group(2), re.M)
        why = alt_problem(alt.group(1) if alt else None)
        if why:
            line = markdown.count("\n", 0, m.start()) + 1
            problems.append(f"line {line}: figure: {why}")
    return problems


RULES = {
    f"code lines wider than {CODE_WIDTH} columns": too_wide,
    "plotting code shown, or computation hidden": plotting_not_hidden,
    "figures without a describing alt text": figures_without_alt,
}


def report(path: Path) -> list[str]:
    """Every rule's offending lines for one chapter, as printable lines."""
    text = path.read_text(encoding="utf-8")
    out = []
    for title, rule in RULES.items():
        hits = rule(text)
        if hits:
            out.append(f"{path}: {title}:")
            out += [f"  {hit}" for hit in hits]
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    paths = [Path(a) for a in argv] or sorted((root / "book").glob("[0-9][0-9]_*.md"))
    lines = [line for path in paths for line in report(path)]
    print("\n".join(lines) if lines else "no layout problems in the source")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
