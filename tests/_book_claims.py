"""The book's claims rule: every number a chapter's prose states is produced by its cells.

A *stated number* is a decimal number (``2.136``, ``.5``), a percentage (``12 %``,
``11.7%``) or a power of ten in e-notation (``1e-9``) in a chapter's prose: its markdown
outside code cells and other code blocks (a directive's body, an admonition or a figure's
caption, is prose; its options are not, except ``:alt:``), outside math (display and
inline: definitions, settings and worked arithmetic are written as math, a measured number
never is), inline
code, HTML comments and the targets of roles (``{ref}``, ``{cite}``, ``{eq}``, ``{numref}``,
``{glue...}``); a figure's ``:alt:`` text counts as prose. A stated number passes only if the
same number occurs in an output of the chapter's executed notebook (what a cell prints or
displays, glued values included). So a number about a computed result is written with
``{glue:text}`` or printed by the cell that computes it; a number that no cell produces
(a remembered result, a typed-in setting) fails. Integers without a percent sign are not
checked (counts and settings such as "three seeds" or "600 steps"). docs/CONVENTIONS.md
states the rule for authors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})([^\n]*)\n(.*?)^\1[ \t]*$", re.M | re.S)
# Directives whose body is code, math or data, not prose.
CODE_DIRECTIVES = ("{code-cell}", "{code-block}", "{code}", "{math}", "{list-table}",
                   "{bibliography}", "{raw}", "{literalinclude}")
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$[^$\n]+?(?<!\\)\$")
ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
INLINE_CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
OPTION = re.compile(r"^:(?!alt:)[\w-]+:.*$", re.M)
LINK_TARGET = re.compile(r"\]\([^)]*\)")
LABEL = re.compile(r"^\([\w-]+\)=\s*$", re.M)
VERSION = re.compile(r"\b\d+\.\d+\.\d+\b")
# decimal numbers, percentages, powers of ten (TeX or e-notation); a leading sign is kept off
NUMBER = re.compile(
    r"(?<![\w.])(?:\d+(?:\.\d+)?\s?\\?%|\d*\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+"
    r"|10\^\{?[-−]?\d+\}?)(?![\w.]*\d)"
)


def prose(markdown: str) -> str:
    """The prose of a MyST chapter, with everything the rule does not read blanked out.

    Newlines are kept, so offsets map to the same line numbers as in the source."""
    def blank(match):
        return re.sub(r"[^\n]", " ", match.group(0))

    def fence(match):
        info = match.group(2).strip()
        if not info.startswith("{") or info.startswith(CODE_DIRECTIVES):
            return blank(match)
        # A prose directive: its first line and closing fence go, its body stays (nested
        # fences are handled by the recursion).
        head, close = blank(re.match(r"[^\n]*\n", match.group(0))), " " * len(match.group(1))
        return head + FENCE.sub(fence, match.group(3)) + close

    text = FRONT_MATTER.sub(blank, markdown)
    text = FENCE.sub(fence, text)
    for pattern in (COMMENT, DISPLAY_MATH, ROLE, INLINE_CODE, INLINE_MATH, OPTION,
                    LINK_TARGET, LABEL, VERSION):
        text = pattern.sub(blank, text)
    return text


def stated_numbers(markdown: str) -> list[tuple[int, str]]:
    """(line number, number as written) for every stated number of a chapter's prose."""
    text = prose(markdown)
    found = []
    for match in NUMBER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(0)))
    return found


def normalise(number: str) -> str:
    """A stated number as a search key: no spaces before %, no backslash, TeX powers as 1e-k."""
    number = number.replace("\\%", "%").replace(" ", "").replace("−", "-")
    power = re.fullmatch(r"10\^\{?(-?\d+)\}?", number)
    if power:
        return f"1e{power.group(1)}"
    return number


def output_text(notebook: dict) -> str:
    """Everything the executed notebook's cells printed or displayed, as one string."""
    parts = []
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]))
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):
                    parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def produced(number: str, outputs: str) -> bool:
    """True if `number` occurs in the outputs as a number of its own (not inside a longer one)."""
    key = normalise(number)
    spaced = re.sub(r"\s+(?=%)", "", outputs).replace("−", "-")
    if re.fullmatch(r"1e-?\d+", key):
        exp = int(key[2:])
        sign = "-" if exp < 0 else r"\+?"
        pattern = (r"(?<![\w.])(?:1(?:\.0+)?e" + sign + "0*" + str(abs(exp)) + r"\b"
                   + r"|10\^\{?" + str(exp) + r"\}?)")
        return re.search(pattern, spaced) is not None
    return re.search(rf"(?<![\w.]){re.escape(key)}(?![\d])", spaced) is not None


def unproduced(markdown: str, notebook: dict) -> list[str]:
    """The stated numbers of a chapter that no output of its executed notebook contains."""
    outputs = output_text(notebook)
    return [f"line {line}: {number}" for line, number in stated_numbers(markdown)
            if not produced(number, outputs)]


def check_chapter(source: Path, executed: Path) -> list[str]:
    """`unproduced` for a chapter source and its executed notebook."""
    return unproduced(source.read_text(encoding="utf-8"),
                      json.loads(executed.read_text(encoding="utf-8")))
