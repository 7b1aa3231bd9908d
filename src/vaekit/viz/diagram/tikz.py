"""The diagram as a standalone LaTeX document drawn with TikZ (compiles with pdflatex).

The page is cropped to the picture with plain TeX (a box shipped out on a page of its size)
rather than ``standalone.cls``, which is not in Debian's ``texlive-latex-base``: the document
needs only ``texlive-latex-base`` and ``texlive-pictures``.

Each kind of shape has its own TikZ style (``neuron``, ``edge``, ``arrow``, ``flow``, and
``condition`` where a conditional model's y is drawn), so the source reads as a list of
``\\draw[edge] ...`` lines, one per connection.
"""

from __future__ import annotations

from vaekit.viz.diagram.layout import Drawing, Label

GREEK = {"mu": r"\mu", "sigma": r"\sigma", "epsilon": r"\varepsilon"}
ANCHORS = {"start": "west", "middle": "center", "end": "east"}
#: the style of a condition's lines (the SVG's orange), declared only where there are some
CONDITION_STYLE = r"  condition/.style={draw=orange!85!black, line width=0.35pt},"
#: Characters that LaTeX treats as commands, escaped in plain labels.
SPECIAL = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"})


def _label_tex(label: Label) -> str:
    if not label.math:
        if label.base == "\u22ee":
            return r"$\vdots$"
        return label.base.translate(SPECIAL)
    base = GREEK.get(label.base, label.base)
    if label.hat:
        base = rf"\hat{{{base}}}"
    return f"${base}_{{{label.sub}}}$" if label.sub else f"${base}$"


def _font(size: float) -> str:
    # 1 unit = 1 cm = 28.45 pt; the SVG uses the same font size in units.
    pt = size * 28.45
    return rf"\fontsize{{{pt:.1f}}}{{{pt * 1.2:.1f}}}\selectfont"


def _color_name(hex_color: str) -> str:
    return "c" + hex_color.lstrip("#").lower()


def render_tikz(d: Drawing) -> str:
    """Return the drawing as a standalone LaTeX document (a string); 1 unit = 1 cm."""
    colors = sorted({b.fill for b in d.boxes} | {b.stroke for b in d.boxes})
    out = [
        "% VAE architecture drawn by vaekit; compile with: pdflatex FILE.tex",
        r"\documentclass{article}",
        r"\usepackage{tikz}",
        r"\usetikzlibrary{arrows.meta}",
        *[rf"\definecolor{{{_color_name(c)}}}{{HTML}}{{{c.lstrip('#').upper()}}}" for c in colors],
        r"\newsavebox{\vaepicture}",
        r"\newdimen\vaeborder \vaeborder=6pt",
        r"\begin{document}",
        r"\begin{lrbox}{\vaepicture}",
        # y=-1cm: the layout's y grows downwards, TikZ's upwards.
        r"\begin{tikzpicture}[x=1cm, y=-1cm,",
        r"  neuron/.style={draw=black!85, fill=white, line width=0.5pt},",
        r"  edge/.style={draw=black!45, line width=0.3pt},",
        r"  flow/.style={draw=black!45, line width=0.3pt},",
        *([CONDITION_STYLE] if any(line.kind == "condition" for line in d.lines) else []),
        r"  arrow/.style={draw=black!80, line width=0.45pt, -{Stealth[length=1.6mm]}}]",
    ]
    if d.title:
        out.append(f"% {d.title}")
    for b in d.boxes:
        out.append(
            rf"\filldraw[fill={_color_name(b.fill)}, draw={_color_name(b.stroke)}, line width=0.6pt, "
            rf"rounded corners=1.5mm] ({b.x:.3f},{b.y:.3f}) rectangle ({b.x + b.w:.3f},{b.y + b.h:.3f}); % box-{b.kind}"
        )
    for line in d.lines:
        out.append(rf"\draw[{line.kind}] ({line.x1:.3f},{line.y1:.3f}) -- ({line.x2:.3f},{line.y2:.3f});")
    for c in d.circles:
        out.append(rf"\draw[neuron] ({c.x:.3f},{c.y:.3f}) circle ({c.r:.3f}); % {c.layer}-{c.index}")
    for t in [*d.texts, *d.ellipses]:
        out.append(
            rf"\node[anchor={ANCHORS[t.anchor]}, inner sep=1pt, font={_font(t.size)}] at ({t.x:.3f},{t.y:.3f}) "
            rf"{{{_label_tex(t.label)}}};"
        )
    out += [
        r"\end{tikzpicture}",
        r"\end{lrbox}",
        # Crop the page to the picture plus a border: a page of exactly the box's size.
        r"\pdfpagewidth=\dimexpr\wd\vaepicture+2\vaeborder\relax",
        r"\pdfpageheight=\dimexpr\ht\vaepicture+\dp\vaepicture+2\vaeborder\relax",
        r"\hoffset=-1in \voffset=-1in",
        r"\shipout\vbox{\kern\vaeborder\hbox{\kern\vaeborder\usebox{\vaepicture}\kern\vaeborder}\kern\vaeborder}",
        r"\end{document}",
        "",
    ]
    return "\n".join(out)
