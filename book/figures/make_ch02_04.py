"""Draw the SVG diagrams of chapters 2 and 4 (run from anywhere; rewrites the .svg files).

    python book/figures/make_ch02_04.py

Hand-laid boxes and arrows, no dependencies: the diagrams are committed, this script is how
they were made and how to change them.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
INK, RED, GREY, BLUE = "#333", "#c0392b", "#555", "#1f5fa8"
FILL = {"x": "#e8f0fb", "h": "#fdebd3", "y": "#e6f4e6", "L": "#f3e5f5"}


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.items = [
            f'<rect width="{width}" height="{height}" fill="white"/>',
        ]

    def box(self, x, y, name, sub, kind=None):
        fill = FILL[kind or name]
        self.items.append(
            f'<rect x="{x - 28}" y="{y - 20}" width="56" height="40" rx="8" fill="{fill}" '
            f'stroke="{INK}" stroke-width="1.5"/>'
        )
        self.items.append(
            f'<text x="{x}" y="{y + 5}" text-anchor="middle">{name}'
            f'<tspan baseline-shift="sub" font-size="11">{sub}</tspan></text>'
        )

    def arrow(self, x1, y1, x2, y2, color=INK, dashed=False, marker="a"):
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        self.items.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" '
            f'stroke-width="1.6"{dash} marker-end="url(#{marker})"/>'
        )

    def text(self, x, y, s, size=13, color=GREY, anchor="middle"):
        self.items.append(
            f'<text x="{x}" y="{y}" font-size="{size}" fill="{color}" '
            f'text-anchor="{anchor}">{s}</text>'
        )

    def label(self, x, y, parts, size=13, color=GREY, anchor="middle"):
        """Text with subscripts: parts alternate plain text and (base, subscript) pairs."""
        self.text(x, y, subscripted(parts), size, color, anchor)

    def raw(self, s):
        self.items.append(s)

    def write(self, path):
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
            f'viewBox="0 0 {self.w} {self.h}" font-family="DejaVu Sans, Arial, sans-serif" '
            f'font-size="15">\n<defs>'
        )
        for mid, color in (("a", INK), ("r", RED), ("b", BLUE)):
            head += (
                f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                f'markerHeight="7" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            )
        head += "</defs>"
        Path(path).write_text("\n".join([head, *self.items, "</svg>"]) + "\n")


def subscripted(parts):
    """SVG text for e.g. ["the same ", ("W", "xh"), " and b"]: each subscript is lowered by
    a dy shift, and the text after it is raised back (baseline-shift is not drawn by every
    browser)."""
    out, lowered = [], False
    for part in parts:
        if isinstance(part, tuple):
            base, sub = part
            out.append((f'<tspan dy="-4">{base}</tspan>' if lowered else base)
                       + f'<tspan dy="4" font-size="10">{sub}</tspan>')
            lowered = True
        else:
            out.append(f'<tspan dy="-4">{part}</tspan>' if lowered else part)
            lowered = False
    return "".join(out)


def unrolled(folder=HERE):
    """Chapter 2: the folded RNN and the same network unrolled over four steps."""
    s = Svg(880, 300)
    fx = 90
    s.box(fx, 240, "x", "t")
    s.box(fx, 150, "h", "t")
    s.box(fx, 60, "y", "t")
    s.arrow(fx, 220, fx, 171)
    s.label(fx + 8, 200, [("W", "xh")], anchor="start")
    s.arrow(fx, 130, fx, 81)
    s.label(fx + 8, 110, [("W", "hy")], anchor="start")
    s.raw(
        f'<path d="M{fx + 28},145 C{fx + 80},110 {fx + 80},190 {fx + 30},158" fill="none" '
        f'stroke="{RED}" stroke-width="1.6" marker-end="url(#r)"/>'
    )
    # to the right of the loop it labels, level with its middle
    s.label(fx + 74, 156, [("W", "hh")], color=RED, anchor="start")
    s.text(245, 158, "=", size=28, color=INK)
    xs = [340, 470, 600, 730]
    s.text(285, 140, "h₀", color=INK, size=14)
    s.arrow(272, 150, xs[0] - 30, 150, color=RED, marker="r")
    for i, x in enumerate(xs, 1):
        s.box(x, 240, "x", i)
        s.box(x, 150, "h", i)
        s.box(x, 60, "y", i)
        s.arrow(x, 220, x, 171)
        s.arrow(x, 130, x, 81)
        if i < len(xs):
            s.arrow(x + 28, 150, xs[i] - 30, 150, color=RED, marker="r")
            s.label((x + xs[i]) / 2, 140, [("W", "hh")], color=RED)
    s.label(xs[0] + 8, 200, [("W", "xh")], anchor="start")
    s.label(xs[0] + 8, 110, [("W", "hy")], anchor="start")
    s.text(xs[-1] + 62, 155, "…", size=18, color=INK)
    s.label(535, 292, ["the same ", ("W", "xh"), ", ", ("W", "hh"), ", ", ("W", "hy"),
                       " and b are used at every time step"])
    s.write(Path(folder) / "ch02_unrolled.svg")


def bptt(folder=HERE):
    """Chapter 4: forward through time, gradients back through time, a truncation boundary."""
    s = Svg(900, 330)
    xs = [110, 240, 370, 530, 660, 790]
    for i, x in enumerate(xs, 1):
        s.box(x, 260, "x", i)
        s.box(x, 170, "h", i)
        s.box(x, 70, "L", i)
        s.arrow(x, 240, x, 191)
        s.arrow(x, 150, x, 91)
        if i < len(xs):
            s.arrow(x + 28, 162, xs[i] - 30, 162)
            s.arrow(xs[i] - 30, 180, x + 28, 180, color=RED, marker="r")
        # the loss at each step sends a gradient down into its hidden state
        s.raw(
            f'<path d="M{x - 34},80 C{x - 60},110 {x - 60},140 {x - 30},160" fill="none" '
            f'stroke="{RED}" stroke-width="1.4" marker-end="url(#r)"/>'
        )
    s.text(45, 166, "h₀", color=INK, size=14)
    s.arrow(58, 162, xs[0] - 30, 162)
    cut = (xs[2] + xs[3]) / 2
    # the boundary is interrupted where the forward label sits on it
    for y1, y2 in ((30, 134), (156, 300)):
        s.raw(
            f'<line x1="{cut}" y1="{y1}" x2="{cut}" y2="{y2}" stroke="{BLUE}" '
            f'stroke-width="2" stroke-dasharray="7,5"/>'
        )
    s.text(cut, 22, "chunk boundary: the state is carried forward, the gradient stops",
           color=BLUE)
    s.text(240, 316, "chunk 1: forward, then backward over 3 steps", color=INK)
    s.text(660, 316, "chunk 2 starts from h₃ (no gradient into chunk 1)", color=INK)
    s.text(175, 205, "∂h₂/∂h₁", color=RED)
    s.text(450, 150, "forward", color=INK)
    s.write(Path(folder) / "ch04_bptt.svg")


if __name__ == "__main__":
    unrolled()
    bptt()
