"""The diagram as a Typst document drawn with the CeTZ package (``typst compile FILE.typ``).

Shapes go through small helper functions (``neuron``, ``edge``, ``arrow``, ``flow``, ``shaded``, ``write``,
and ``condition`` where a conditional model's y is drawn) defined at the top of the canvas, one
call per shape.
"""

from __future__ import annotations

from vaekit.viz.diagram.layout import Drawing, Label

CETZ_VERSION = "0.3.4"
ANCHORS = {"start": "west", "middle": "center", "end": "east"}
#: the helper drawing a condition's lines (the SVG's orange), defined only where there are some
CONDITION_HELPER = '  let condition(a, b) = line(a, b, stroke: 0.35pt + rgb("#d9822b"))'


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label_typst(label: Label) -> str:
    if not label.math:
        return f"[#{_string(label.base)}]"
    base = label.base
    if label.hat:
        base = f"hat({base})"
    return f"[${base}_{label.sub}$]" if label.sub else f"[${base}$]"


def _p(x: float, y: float) -> str:
    # The layout's y grows downwards, CeTZ's upwards.
    return f"({x:.3f}, {-y:.3f})"


def render_typst(d: Drawing) -> str:
    """Return the drawing as a Typst document using CeTZ (a string); 1 unit = 1 cm."""
    out = [
        "// VAE architecture drawn by vaekit; compile with: typst compile FILE.typ",
        f'#import "@preview/cetz:{CETZ_VERSION}": canvas, draw',
        "#set page(width: auto, height: auto, margin: 6pt)",
        '#set text(font: ("New Computer Modern", "DejaVu Serif"))',
    ]
    if d.title:
        out.append(f"// {d.title}")
    radius = d.circles[0].r if d.circles else 0.3
    out += [
        "#canvas(length: 1cm, {",
        "  import draw: *",
        f"  let neuron(p) = circle(p, radius: {radius:.3f}, fill: white, stroke: 0.5pt + luma(30))",
        "  let edge(a, b) = line(a, b, stroke: 0.3pt + luma(140))",
        "  let flow(a, b) = line(a, b, stroke: 0.3pt + luma(140))",
        *([CONDITION_HELPER] if any(line.kind == "condition" for line in d.lines) else []),
        '  let arrow(a, b) = line(a, b, stroke: 0.45pt + luma(50), mark: (end: ">", fill: luma(50)))',
        "  let shaded(a, b, fill-color, stroke-color) = rect(a, b, fill: rgb(fill-color), "
        "stroke: 0.6pt + rgb(stroke-color), radius: 0.15)",
        "  let write(p, body, anchor, size) = content(p, text(size: size, body), anchor: anchor)",
    ]
    for b in d.boxes:
        out.append(f'  shaded({_p(b.x, b.y)}, {_p(b.x + b.w, b.y + b.h)}, "{b.fill}", "{b.stroke}") // box-{b.kind}')
    for line in d.lines:
        out.append(f"  {line.kind}({_p(line.x1, line.y1)}, {_p(line.x2, line.y2)})")
    for c in d.circles:
        out.append(f"  neuron({_p(c.x, c.y)}) // {c.layer}-{c.index}")
    for t in [*d.texts, *d.ellipses]:
        size = f"{t.size * 28.45:.1f}pt"  # 1 unit = 1 cm = 28.45 pt
        out.append(f'  write({_p(t.x, t.y)}, {_label_typst(t.label)}, "{ANCHORS[t.anchor]}", {size})')
    out += ["})", ""]
    return "\n".join(out)
