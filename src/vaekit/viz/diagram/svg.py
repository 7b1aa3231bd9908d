"""The diagram as SVG, written directly (no LaTeX, no drawing library).

Shapes carry classes so that programs (and tests) can count them: ``neuron`` circles (with
``data-layer``/``data-index``), ``edge`` lines, ``arrow`` lines, ``flow`` lines, ``condition``
lines (a conditional model's y into the layers that take it), and boxes ``box-mu``,
``box-sigma``, ``box-sample``, ``box-code`` (a deterministic model's z), ``box-conv`` (a conv
stage), ``box-module`` and ``box-net`` (a part, or the whole encoder or decoder, of a net the
diagram does not know).
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from vaekit.viz.diagram.layout import Drawing, Label, Text

SCALE = 40.0  # pixels per unit
#: the condition's lines: coloured, as they cross the weights' grey edges
CONDITION_COLOR = "#d9822b"
MARGIN = 0.5  # units around the drawing
GREEK = {"mu": "\u03bc", "sigma": "\u03c3", "epsilon": "\u03b5"}


def _label_svg(label: Label) -> str:
    if not label.math:
        return escape(label.base)
    base = GREEK.get(label.base, label.base)
    if label.hat:
        base += "\u0302"  # combining circumflex: x-hat
    body = f'<tspan font-style="italic">{escape(base)}</tspan>'
    if label.sub:
        body += f'<tspan baseline-shift="sub" font-size="70%">{escape(label.sub)}</tspan>'
    return body


def _text(t: Text, px: Callable[[float], float], py: Callable[[float], float]) -> str:
    return (
        f'<text class="{t.kind}" x="{px(t.x):.1f}" y="{py(t.y):.1f}" text-anchor="{t.anchor}" '
        f'dominant-baseline="central" font-size="{t.size * SCALE:.1f}">{_label_svg(t.label)}</text>'
    )


def render_svg(d: Drawing) -> str:
    """Return the drawing as a standalone SVG document (a string), 40 pixels per unit."""
    xmin, ymin, xmax, ymax = d.bounds()
    xmin, ymin, xmax, ymax = xmin - MARGIN, ymin - MARGIN, xmax + MARGIN, ymax + MARGIN
    width, height = (xmax - xmin) * SCALE, (ymax - ymin) * SCALE

    def px(x: float) -> float:
        return (x - xmin) * SCALE

    def py(y: float) -> float:
        return (y - ymin) * SCALE

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="DejaVu Serif, Times New Roman, serif">',
        f"<title>{escape(d.title or 'VAE architecture')}</title>",
        "<defs>",
        '<marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333333"/></marker>',
        "</defs>",
        '<rect class="background" x="0" y="0" width="100%" height="100%" fill="white"/>',
        '<g class="boxes">',
    ]
    for b in d.boxes:
        out.append(
            f'<rect class="box-{b.kind}" x="{px(b.x):.1f}" y="{py(b.y):.1f}" width="{b.w * SCALE:.1f}" '
            f'height="{b.h * SCALE:.1f}" rx="6" fill="{b.fill}" stroke="{b.stroke}" stroke-width="1.5"/>'
        )
    out.append('</g>\n<g class="connections">')
    styles = {
        "edge": 'stroke="#8a8a8a" stroke-width="0.8"',
        "flow": 'stroke="#8a8a8a" stroke-width="0.8"',
        "arrow": 'stroke="#333333" stroke-width="1.2" marker-end="url(#arrowhead)"',
        "condition": f'stroke="{CONDITION_COLOR}" stroke-width="0.9"',
    }
    for line in d.lines:
        out.append(
            f'<line class="{line.kind}" x1="{px(line.x1):.1f}" y1="{py(line.y1):.1f}" '
            f'x2="{px(line.x2):.1f}" y2="{py(line.y2):.1f}" {styles[line.kind]}/>'
        )
    out.append('</g>\n<g class="neurons">')
    for c in d.circles:
        out.append(
            f'<circle class="neuron" id="{c.layer}-{c.index}" data-layer="{c.layer}" data-index="{c.index}" '
            f'cx="{px(c.x):.1f}" cy="{py(c.y):.1f}" r="{c.r * SCALE:.1f}" fill="white" stroke="#222222" '
            'stroke-width="1.3"/>'
        )
    out.append('</g>\n<g class="labels">')
    out += [_text(t, px, py) for t in [*d.texts, *d.ellipses]]
    out.append("</g>\n</svg>\n")
    return "\n".join(out)
