"""Draw the SVG diagrams of chapters 5-8 (LSTM, peephole LSTM, GRU, captioning).

Run from the repository root: ``python book/figures/make_ch05_08.py``. The SVGs are committed;
this script is how they were made, so a change to a diagram is a change here.
The drawings use plain SVG shapes and system sans-serif fonts, so they load offline.
"""

from pathlib import Path

OUT = Path(__file__).resolve().parent

CELL = "#2b6cb0"  # the cell-state (or hidden-state) highway
SIG = "#f6ad55"  # sigmoid gates
TANH = "#68d391"  # tanh layers
PEEP = "#805ad5"  # peephole connections
INK = "#1a202c"

STYLE = f"""
<style>
  text {{ font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 15px; fill: {INK}; }}
  .small {{ font-size: 12px; }}
  .title {{ font-size: 13px; fill: #4a5568; }}
  .wire {{ stroke: {INK}; stroke-width: 1.6; fill: none; }}
  .highway {{ stroke: {CELL}; stroke-width: 4; fill: none; }}
  .peep {{ stroke: {PEEP}; stroke-width: 1.8; fill: none; stroke-dasharray: 6 4; }}
  .halo {{ stroke: white; stroke-width: 7; fill: none; }}
</style>
<defs>
  <marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
          orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker>
  <marker id="arrb" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="14" markerHeight="14"
          markerUnits="userSpaceOnUse" orient="auto-start-reverse">
    <path d="M0,0 L10,5 L0,10 z" fill="{CELL}"/></marker>
  <marker id="arrp" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"
          orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{PEEP}"/></marker>
</defs>
"""


def svg(width, height, body, title):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{title}">\n'
        f"<title>{title}</title>\n{STYLE}\n"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


def sym(x, y, base, sub="", anchor="middle", cls=""):
    """A symbol with a subscript, e.g. sym(10, 20, "c", "t-1")."""
    c = f' class="{cls}"' if cls else ""
    sub = sub.replace("-", "\u2212")
    s = f'<tspan dy="4" font-size="11">{sub}</tspan>' if sub else ""
    b = f'<tspan font-style="italic">{base}</tspan>'
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{c}>{b}{s}</text>'


def formula(parts):
    """Text with italic symbols and subscripts: parts alternate plain text and (symbol,
    subscript) pairs, e.g. [("a", "t"), " = ", ("x", "t"), " ", ("W", "x")]. A one-letter
    symbol is italic, a word (attn) upright, as in the prose. A subscript is lowered by a dy
    shift and the text after it raised back."""
    out, lowered = [], False
    for part in parts:
        shift = ' dy="-3"' if lowered else ""
        if isinstance(part, tuple):
            base, sub = part
            sub = sub.replace("-", "\u2212")
            style = ' font-style="italic"' if len(base) == 1 else ""
            out.append(f'<tspan{style}{shift}>{base}</tspan>'
                       f'<tspan dy="3" font-size="9">{sub}</tspan>')
            lowered = True
        else:
            out.append(f"<tspan{shift}>{part}</tspan>" if lowered else part)
            lowered = False
    return "".join(out)


def text(x, y, s, anchor="middle", cls=""):
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{c}>{s}</text>'


def path(d, cls="wire", arrow=True):
    m = {"wire": "arr", "highway": "arrb", "peep": "arrp"}.get(cls, "arr")
    end = f' marker-end="url(#{m})"' if arrow else ""
    return f'<path class="{cls}" d="{d}"{end}/>'


def box(x, y, label, fill, w=56, h=34, sub=""):
    """A layer box centred at (x, y)."""
    out = [
        f'<rect x="{x - w / 2}" y="{y - h / 2}" width="{w}" height="{h}" rx="6" '
        f'fill="{fill}" stroke="{INK}" stroke-width="1.2"/>',
        text(x, y + 5, label),
    ]
    if sub:
        out.append(text(x, y + h / 2 + 14, sub, cls="small"))
    return out


def op(x, y, s, r=12):
    """A pointwise operation (a circle with x, + or 1-)."""
    glyph = {"*": "\u00d7", "+": "+", "1-": "1\u2212"}[s]
    size = 13 if s == "1-" else 18
    return [
        f'<circle cx="{x}" cy="{y}" r="{r}" fill="white" stroke="{INK}" stroke-width="1.4"/>',
        f'<text x="{x}" y="{y + size / 3}" text-anchor="middle" font-size="{size}">{glyph}</text>',
    ]


def dot(x, y):
    return f'<circle cx="{x}" cy="{y}" r="3.2" fill="{INK}"/>'


def frame(x0, y0, x1, y1):
    return (
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="18" '
        'fill="#f7fafc" stroke="#a0aec0" stroke-width="1.2"/>'
    )


# --------------------------------------------------------------------------- chapter 5 and 6
def lstm_cell(peephole=False):
    """The LSTM cell (rnnlib's gate order i, f, o, g); with peepholes when asked."""
    b = [frame(110, 40, 650, 370)]
    # cell-state highway along the top
    b += [path("M 20 90 L 238 90", "highway", arrow=False), path("M 262 90 L 398 90", "highway")]
    b += [path("M 422 90 L 735 90", "highway")]
    b += [sym(30, 78, "c", "t-1", anchor="start"), sym(700, 78, "c", "t")]
    # input bus: h_{t-1} from the left, x_t from below
    b += [path("M 20 330 L 490 330", arrow=False), path("M 160 405 L 160 330", arrow=False)]
    b += [dot(160, 330), sym(30, 318, "h", "t-1", anchor="start"), sym(178, 400, "x", "t")]
    # the names of the prose's pre-activation a_t = x_t W_x + h_{t-1} W_h + b
    b += [text(330, 356, formula([("a", "t"), " = ", ("x", "t"), " ", ("W", "x"), " + ",
                                  ("h", "t-1"), " ", ("W", "h"),
                                  " + b  (columns i | f | o | g)"]), cls="small")]
    gates = [(250, "\u03c3", SIG, "f"), (330, "\u03c3", SIG, "i"), (410, "tanh", TANH, "g"),
             (490, "\u03c3", SIG, "o")]
    for x, lab, fill, _name in gates:
        b.append(path(f"M {x} 330 L {x} 259"))
        b += box(x, 240, lab, fill)
        b.append(dot(x, 330) if x != 490 else "")
    b += [sym(258, 160, "f", "t", anchor="start"), sym(322, 160, "i", "t", anchor="end")]
    b += [sym(422, 208, "g", "t", anchor="start"), sym(530, 232, "o", "t", anchor="start")]
    # forget: f * c_{t-1}
    b += [path("M 250 223 L 250 103")] + op(250, 90, "*")
    # input: i * g, added to the cell
    b += [path("M 330 223 L 330 170 L 397 170"), path("M 410 223 L 410 183")]
    b += op(410, 170, "*") + [path("M 410 157 L 410 103")] + op(410, 90, "+")
    # output: o * tanh(c_t)
    b += [path("M 580 90 L 580 150"), dot(580, 90)]
    b += [f'<ellipse cx="580" cy="165" rx="30" ry="15" fill="{TANH}" stroke="{INK}"/>',
          text(580, 170, "tanh", cls="small")]
    b += [path("M 580 180 L 580 227"), path("M 518 240 L 567 240")] + op(580, 240, "*")
    b += [path("M 592 240 L 735 240"), sym(700, 230, "h", "t")]
    b += [path("M 660 240 L 660 20"), dot(660, 240), text(668, 30, "to the output layer",
                                                          anchor="start", cls="small")]
    # the crossing of h_t's upward branch over the highway is not a junction
    b.insert(-3, '<path class="halo" d="M 660 100 L 660 80"/>')
    b.insert(-3, path("M 660 100 L 660 80", arrow=False))
    if peephole:
        b += [path("M 150 90 L 150 200 L 236 200 L 236 223", "peep"), dot(150, 90)]
        b += [path("M 236 200 L 316 200 L 316 223", "peep")]
        b += [path("M 540 90 L 540 200 L 504 200 L 504 223", "peep"), dot(540, 90)]
        b += [text(144, 150, "Wp[1], Wp[0]", anchor="end", cls="small"),
              text(534, 130, "Wp[2]", anchor="end", cls="small")]
        b += [text(380, 30, "dashed: peepholes (i and f see c\u209c\u208b\u2081, o sees c\u209c)",
                   cls="title")]
        title = "Peephole LSTM cell"
    else:
        b += [text(380, 30, "blue: the cell state, changed only by \u00d7 f and + i g",
                   cls="title")]
        title = "LSTM cell"
    return svg(800, 420, b, title)


def highway():
    """Backward paths through time: vanilla RNN, LSTM cell state, residual block."""
    b = [text(20, 30, "Vanilla RNN: every step multiplies the gradient by "
              "diag(1\u2212h\u00b2) W\u2095", anchor="start", cls="title")]
    for k in range(4):
        x = 60 + 170 * k
        b += [f'<circle cx="{x}" cy="70" r="20" fill="#ebf8ff" stroke="{INK}"/>',
              sym(x, 75, "h", f"t-{3 - k}" if k < 3 else "t")]
        if k < 3:
            b += [path(f"M {x + 20} 70 L {x + 48} 70")] + box(x + 85, 70, "W, tanh", TANH, w=72)
            b += [path(f"M {x + 121} 70 L {x + 148} 70")]
    b += [text(20, 140, "LSTM: along the cell state every step multiplies it by diag(f) only",
               anchor="start", cls="title")]
    for k in range(4):
        x = 60 + 170 * k
        b += [f'<circle cx="{x}" cy="180" r="20" fill="#ebf8ff" stroke="{CELL}" stroke-width="2"/>',
              sym(x, 185, "c", f"t-{3 - k}" if k < 3 else "t")]
        if k < 3:
            b += [path(f"M {x + 20} 180 L {x + 73} 180", "highway", arrow=False)]
            b += op(x + 85, 180, "*")
            b += [path(f"M {x + 97} 180 L {x + 148} 180", "highway")]
            b += [path(f"M {x + 85} 215 L {x + 85} 193"), sym(x + 85, 232, "f", "")]
            b += [path(f"M {x + 125} 215 L {x + 125} 187"), text(x + 125, 232, "+ig", cls="small")]
    b += [text(20, 272, "Residual block (He et al. 2016): y = x + F(x), the identity carries the"
               " gradient past F", anchor="start", cls="title")]
    b += [sym(40, 325, "x", ""), path("M 52 320 L 230 320", "highway"), dot(90, 320)]
    b += [path("M 90 320 L 90 365 L 118 365")] + box(150, 365, "F", TANH, w=60)
    b += [path("M 180 365 L 242 365 L 242 333")] + op(242, 320, "+")
    b += [path("M 254 320 L 320 320"), sym(335, 325, "y", "")]
    b += [text(390, 325, "Highway networks (Srivastava et al. 2015) gate this", anchor="start",
               cls="small"),
          text(390, 343, "identity path, exactly like the forget gate.", anchor="start",
               cls="small")]
    return svg(760, 390, b, "Gradient paths: RNN, LSTM cell state, residual block")


# --------------------------------------------------------------------------- chapter 7
def gru_cell():
    """GRU in rnnlib's convention: columns r, z, n; reset applied to h before W_h,n."""
    b = [frame(60, 40, 700, 370)]
    b += [path("M 20 90 L 548 90", "highway", arrow=False), path("M 572 90 L 648 90", "highway")]
    b += [path("M 672 90 L 740 90", "highway")]
    b += [sym(30, 78, "h", "t-1", anchor="start"), sym(712, 78, "h", "t")]
    b += op(560, 90, "*") + op(660, 90, "+")
    # h_{t-1} down to the gate bus, x_t joins from below
    b += [path("M 90 90 L 90 330 L 560 330", arrow=False), dot(90, 90)]
    b += [path("M 130 405 L 130 330", arrow=False), dot(130, 330)]
    b += [sym(118, 405, "x", "t", anchor="end")]
    b += [text(280, 354, "r, z: x Wx + h Wh + b  (columns r | z | n)", cls="small")]
    for x, name in [(200, "r"), (560, "z")]:
        b += [path(f"M {x} 330 L {x} 259"), dot(x, 330) if x == 200 else ""]
        b += box(x, 240, "\u03c3", SIG)
        b += [sym(x + 12, 206, name, "t", anchor="start")]
    b.append(dot(560, 330) if False else "")
    # reset: r * h_{t-1}, before the product with Wh_n
    b += [path("M 200 223 L 200 182")] + op(200, 170, "*")
    b += [path("M 200 90 L 200 157"), dot(200, 90)]
    b += [path("M 212 170 L 391 170"), text(300, 160, "(r \u2299 h) Wh\u2099", cls="small")]
    # candidate n
    b += box(420, 170, "tanh", TANH, w=58)
    b += ['<path class="halo" d="M 420 342 L 420 318"/>', path("M 420 390 L 420 188")]
    b += [path("M 130 390 L 420 390", arrow=False), dot(130, 390)]
    b += [text(432, 300, "x Wx\u2099 + b\u2099", anchor="start", cls="small")]
    b += [sym(455, 160, "n", "t", anchor="start")]
    # update: z * h_{t-1} + (1 - z) * n
    b += [path("M 560 223 L 560 103")]
    b += [path("M 588 240 L 644 240")] + op(660, 240, "1-", r=15)
    b += [path("M 449 170 L 647 170")]
    b += ['<path class="halo" d="M 548 170 L 572 170"/>', path("M 548 170 L 572 170", arrow=False)]
    b += op(660, 170, "*") + [path("M 660 225 L 660 183"), path("M 660 158 L 660 103")]
    b += [text(380, 30, "next_h = z \u2299 h + (1 \u2212 z) \u2299 n : "
               "the update gate z interpolates", cls="title")]
    return svg(760, 420, b, "GRU cell")


# --------------------------------------------------------------------------- chapter 8
def captioning():
    """Image -> CNN -> features -> h0 -> RNN unrolled over <START> a red circle <END>."""
    b = [f'<rect x="20" y="120" width="90" height="90" fill="#edf2f7" stroke="{INK}"/>',
         '<circle cx="48" cy="150" r="16" fill="#e53e3e"/>',
         '<rect x="66" y="160" width="32" height="32" fill="#3182ce"/>',
         text(65, 230, "image", cls="small"), text(65, 245, "3\u00d732\u00d732", cls="small")]
    b += [path("M 110 165 L 140 165")]
    b += [f'<rect x="140" y="110" width="126" height="110" rx="8" fill="#fefcbf" stroke="{INK}"/>',
          text(203, 135, "CNN", ), text(203, 158, "2 \u00d7 conv, stride 2", cls="small"),
          text(203, 176, "residual block", cls="small"),
          text(203, 194, "1\u00d71 conv: grid", cls="small"),
          text(203, 212, "affine: vector", cls="small")]
    b += [path("M 266 165 L 290 165"), text(278, 150, "(D,)", cls="small")]
    b += box(320, 165, "W_proj", "#e2e8f0", w=60)
    b += [path("M 320 148 L 320 80 L 372 80"), sym(346, 70, "h", "0")]
    words_in = ["&lt;START&gt;", "a", "red", "circle"]
    words_out = ["a", "red", "circle", "&lt;END&gt;"]
    for k in range(4):
        x = 410 + 110 * k
        b += box(x, 80, "RNN", "#bee3f8", w=70, h=40)
        if k < 3:
            b += [path(f"M {x + 35} 80 L {x + 73} 80")]
        b += [path(f"M {x} 185 L {x} 101"), text(x, 205, words_in[k], cls="small")]
        b += [text(x + 6, 150, "W_embed", anchor="start", cls="small")]
        b += [path(f"M {x} 60 L {x} 32"), text(x, 22, words_out[k], cls="small")]
    b += [text(530, 245, "training: inputs are the true caption shifted by one (teacher forcing);",
               cls="small"),
          text(530, 262, "sampling: each chosen word is fed back as the next input", cls="small")]
    return svg(870, 275, b, "Captioning: CNN features set the first hidden state")


def conv():
    """5x5 input, padding 1, 3x3 kernel, stride 2 -> 3x3 output."""
    s = 28
    b = [text(20, 22, "input 5\u00d75, padding P = 1 (grey), kernel K = 3, stride S = 2",
              anchor="start", cls="title")]
    x0, y0 = 20, 40
    for r in range(7):
        for c in range(7):
            pad = r in (0, 6) or c in (0, 6)
            fill = "#e2e8f0" if pad else "white"
            b.append(f'<rect x="{x0 + c * s}" y="{y0 + r * s}" width="{s}" height="{s}" '
                     f'fill="{fill}" stroke="#a0aec0"/>')
    for (r, c), col in [((0, 0), "#e53e3e"), ((0, 2), "#3182ce"), ((2, 4), "#38a169")]:
        b.append(f'<rect x="{x0 + c * s + 2}" y="{y0 + r * s + 2}" width="{3 * s - 4}" '
                 f'height="{3 * s - 4}" fill="none" stroke="{col}" stroke-width="3"/>')
    b += [path("M 230 138 L 290 138"), text(260, 128, "slide", cls="small")]
    x1, y1 = 300, 96
    cols = {(0, 0): "#e53e3e", (0, 1): "#3182ce", (1, 2): "#38a169"}
    for r in range(3):
        for c in range(3):
            fill = cols.get((r, c), "white")
            op_ = "0.35" if (r, c) in cols else "1"
            b.append(f'<rect x="{x1 + c * s}" y="{y1 + r * s}" width="{s}" height="{s}" '
                     f'fill="{fill}" fill-opacity="{op_}" stroke="#4a5568"/>')
    b += [text(342, 200, "output 3\u00d73", cls="small")]
    b += [text(420, 120, "output size = (W \u2212 K + 2P) / S + 1", anchor="start"),
          text(420, 145, "= (5 \u2212 3 + 2) / 2 + 1 = 3", anchor="start"),
          text(420, 180, "a 1\u00d71 convolution (K = 1) mixes channels", anchor="start",
               cls="small"),
          text(420, 197, "at each location and keeps the grid size", anchor="start", cls="small")]
    return svg(760, 250, b, "Convolution with stride and padding")


def attention():
    """Soft attention: scores from h_{t-1} and the grid, softmax, weighted average."""
    s = 26
    b = [text(20, 22, "soft attention over a P\u00d7P feature grid A (N, H, P, P)", anchor="start",
              cls="title")]
    weights = [[0.01, 0.02, 0.01, 0.0], [0.03, 0.30, 0.12, 0.01], [0.02, 0.25, 0.15, 0.02],
               [0.0, 0.02, 0.03, 0.01]]
    for r in range(4):
        for c in range(4):
            b.append(f'<rect x="{30 + c * s}" y="{50 + r * s}" width="{s}" height="{s}" '
                     f'fill="#bee3f8" stroke="#4a5568"/>')
            a = min(1.0, weights[r][c] * 3)
            b.append(f'<rect x="{330 + c * s}" y="{50 + r * s}" width="{s}" height="{s}" '
                     f'fill="#dd6b20" fill-opacity="{a:.2f}" stroke="#4a5568"/>')
    b += [text(82, 170, "grid A: an H-vector", cls="small"),
          text(82, 186, "at each location", cls="small")]
    b += [sym(150, 240, "h", "t-1"), f'<rect x="123" y="222" width="54" height="26" rx="5" '
          f'fill="none" stroke="{INK}"/>']
    b += [path("M 140 102 L 193 102"), path("M 177 235 L 225 235 L 225 125")]
    b += box(232, 102, "h\u00b7A/\u221aH", "#e2e8f0", w=76, h=40)
    b += [path("M 270 102 L 326 102"), text(298, 92, "softmax", cls="small")]
    b += [text(382, 170, "weights (P, P)", cls="small"), text(382, 186, "sum to 1", cls="small")]
    b += [path("M 434 102 L 488 102")]
    b += box(550, 102, "\u03a3 weight \u00b7 A", "#e2e8f0", w=120, h=40)
    b += [path("M 610 102 L 650 102"), text(658, 107, "attn (H,)", anchor="start")]
    # the grid enters the weighted average at its left, clear of the text beside it
    b += [path("M 82 200 L 82 270 L 506 270 L 506 123")]
    b += [text(300, 262, "the same grid A", cls="small")]
    b += [text(518, 160, "attn joins the LSTM pre-activation:", anchor="start",
               cls="small"),
          text(518, 177, formula([("a", "t"), " = ", ("x", "t"), " ", ("W", "x"), " + ",
                                  ("h", "t-1"), " ", ("W", "h"), " + ", ("attn", "t"),
                                  " ", ("W", "attn"), " + b"]),
               anchor="start", cls="small")]
    return svg(760, 290, b, "Soft attention over the feature grid")


FIGURES = {
    "ch05_lstm_cell.svg": lambda: lstm_cell(False),
    "ch05_gradient_paths.svg": highway,
    "ch06_peephole_cell.svg": lambda: lstm_cell(True),
    "ch07_gru_cell.svg": gru_cell,
    "ch08_captioning.svg": captioning,
    "ch08_conv.svg": conv,
    "ch08_attention.svg": attention,
}


def main():
    for name, draw in FIGURES.items():
        (OUT / name).write_text(draw(), encoding="utf-8")
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
