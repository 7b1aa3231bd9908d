"""Places an ``Architecture`` on a plane: circles, lines, boxes and labels in abstract units.

Every renderer (SVG, TikZ, Typst) draws exactly these shapes, so the three formats always show
the same picture. Units: one unit is the distance between two neighbouring circles of a column;
``y`` grows downwards (renderers with an upward y axis flip it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaekit.viz.diagram.layers import Architecture, Code, Condition, ConvBlock, Dense, GaussianHeads, Layer, Sample

COLUMN_GAP = 2.4  # horizontal distance between columns
RADIUS = 0.3
#: Columns wider than this draw the first ``HEAD_SHOWN`` units, an ellipsis and the last unit.
MAX_SHOWN = 6
HEAD_SHOWN = 3
BOX_PAD = 0.22

MU_FILL, MU_STROKE = "#fff2b3", "#c9a227"
SIGMA_FILL, SIGMA_STROKE = "#cfe0fb", "#4a78c2"
SAMPLE_FILL, SAMPLE_STROKE = "#d3f0d0", "#3f9b3a"
#: a deterministic code: grey, not the sample's green, as nothing is drawn at random
CODE_FILL, CODE_STROKE = "#e6e6e6", "#666666"
CONV_FILL, CONV_STROKE = "#eeeeee", "#555555"
#: a block of a net the diagram does not know (a plugin's module, or a whole encoder)
MODULE_FILL, MODULE_STROKE = "#ece4f5", "#7b5aa6"
BLOCK_WIDTH, BLOCK_HEIGHT = 1.7, 3.0
#: the sizes of a block's two lines of text
BLOCK_LABEL, BLOCK_DETAIL = 0.28, 0.22
#: how far right of its column the condition's lines meet, and how far left of a layer it
#: feeds they rise to it (clear of the width written under that layer and the one before)
CONDITION_MEET, CONDITION_FAN = 0.6, 0.9


@dataclass(frozen=True)
class Label:
    """Text to typeset: plain text, or a math symbol ``base`` (``x``, ``mu``, ``sigma``, ``z``)
    with an optional subscript and hat."""

    base: str
    sub: str = ""
    hat: bool = False
    math: bool = False


@dataclass(frozen=True)
class Circle:
    """A unit of a layer: ``layer`` names its column, ``index`` is its 1-based position."""

    x: float
    y: float
    r: float
    layer: str
    index: int


@dataclass(frozen=True)
class Line:
    """A connection. ``kind`` is ``edge`` (a weight), ``arrow`` (mu_i or sigma_i feeding z_i),
    ``flow`` (into or out of a block) or ``condition`` (the path of a condition y into the
    layers that take it)."""

    x1: float
    y1: float
    x2: float
    y2: float
    kind: str


@dataclass(frozen=True)
class Box:
    """A shaded rectangle: ``kind`` is ``mu``, ``sigma``, ``sample``, ``code`` (a deterministic
    model's z), or a block's kind (``conv``, ``module``, ``net``)."""

    x: float
    y: float
    w: float
    h: float
    kind: str
    fill: str
    stroke: str


@dataclass(frozen=True)
class Text:
    """A label centred vertically on ``y``; ``anchor`` is ``start``, ``middle`` or ``end``.
    ``size`` is the font height in units; ``kind`` says what it labels (for tests and styling)."""

    x: float
    y: float
    label: Label
    anchor: str = "middle"
    size: float = 0.36
    kind: str = "label"


@dataclass
class Drawing:
    """All shapes of a diagram, with the bounding box of the drawing in units."""

    circles: list[Circle] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    ellipses: list[Text] = field(default_factory=list)
    title: str = ""

    def bounds(self) -> tuple[float, float, float, float]:
        """Return ``(xmin, ymin, xmax, ymax)`` covering every shape, text approximated."""
        xs, ys = [], []
        for c in self.circles:
            xs += [c.x - c.r, c.x + c.r]
            ys += [c.y - c.r, c.y + c.r]
        for b in self.boxes:
            xs += [b.x, b.x + b.w]
            ys += [b.y, b.y + b.h]
        for t in [*self.texts, *self.ellipses]:
            width = text_width(t)
            left = {"start": t.x, "middle": t.x - width / 2, "end": t.x - width}[t.anchor]
            xs += [left, left + width]
            ys += [t.y - t.size, t.y + t.size]
        return min(xs), min(ys), max(xs), max(ys)


def text_width(t: Text) -> float:
    """Rough width of a label in units (for the bounding box only)."""
    chars = 1 if t.label.math and len(t.label.base) > 1 else len(t.label.base)
    return 0.6 * t.size * (chars + 0.8 * len(t.label.sub))


@dataclass
class _Column:
    """Where one layer's units ended up: (index, x, y) of each drawn circle."""

    units: list[tuple[int, float, float]]
    name: str
    left: float  # x where incoming lines end
    right: float  # x where outgoing lines start
    block_y: float | None = None  # for blocks: the y lines attach to
    #: for the heads column: the mu units and the sigma units
    heads: tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]] | None = None


def shown_units(width: int) -> list[int | None]:
    """Return the 1-based unit indices drawn for a layer of ``width``; ``None`` marks the ellipsis."""
    if width <= MAX_SHOWN:
        return list(range(1, width + 1))
    return [*range(1, HEAD_SHOWN + 1), None, width]


def _column_units(width: int, x: float, top: float | None = None) -> tuple[list[tuple[int, float, float]], float]:
    """Stack a column's drawn units at ``x``, centred on y = 0 (or starting at ``top``);
    return the units and the y of the ellipsis slot (or nan)."""
    slots = shown_units(width)
    start = -(len(slots) - 1) / 2 if top is None else top
    units, ellipsis_y = [], float("nan")
    for k, index in enumerate(slots):
        y = start + k
        if index is None:
            ellipsis_y = y
        else:
            units.append((index, x, y))
    return units, ellipsis_y


def layout(arch: Architecture) -> Drawing:
    """Place every layer of ``arch`` left to right and connect neighbours as the founding
    diagram does: every edge between dense columns, both heads fed by the layer before,
    z_i fed by mu_i and sigma_i; then a condition y under the input, with its path into the
    layers it feeds. Return the drawing."""
    d = Drawing(title=arch.title)
    columns: dict[str, _Column] = {}
    previous: _Column | None = None
    widened = 0.0  # how much wider than the standard block the blocks so far are, in total
    for position, layer in enumerate(arch.layers):
        extra = (block_width(layer) - BLOCK_WIDTH) / 2 if isinstance(layer, ConvBlock) else 0.0
        widened += extra
        x = position * COLUMN_GAP + widened
        widened += extra
        column = _place(d, layer, x, position)
        if previous is not None:
            _connect(d, previous, column, layer)
        previous = columns[column.name] = column
    if arch.condition is not None and columns:
        _place_condition(d, arch.condition, columns)
    if arch.note:
        xmin, _, xmax, ymax = d.bounds()
        d.texts.append(Text((xmin + xmax) / 2, ymax + 0.6, Label(arch.note), "middle", 0.3, "note"))
    return d


def _place(d: Drawing, layer: Layer, x: float, position: int) -> _Column:
    if isinstance(layer, Dense):
        return _place_dense(d, layer, x, position)
    if isinstance(layer, GaussianHeads):
        return _place_heads(d, layer, x)
    if isinstance(layer, Sample):
        return _place_sample(d, layer, x)
    if isinstance(layer, Code):
        return _place_code(d, layer, x)
    if isinstance(layer, ConvBlock):
        return _place_block(d, layer, x, position)
    raise TypeError(f"no layout for layer {layer!r}")


def _add_units(d: Drawing, name: str, width: int, x: float, top: float | None = None) -> list[tuple[int, float, float]]:
    units, ellipsis_y = _column_units(width, x, top)
    d.circles += [Circle(ux, uy, RADIUS, name, i) for i, ux, uy in units]
    if ellipsis_y == ellipsis_y:  # not nan: the column is truncated
        d.ellipses.append(Text(x, ellipsis_y, Label("\u22ee"), "middle", 0.5, "ellipsis"))
    return units


def _place_dense(d: Drawing, layer: Dense, x: float, position: int) -> _Column:
    name = layer.name or f"layer{position}"
    units = _add_units(d, name, layer.width, x)
    top = min(y for _, _, y in units)
    bottom = max(y for _, _, y in units)
    if layer.role in ("input", "output"):
        d.texts.append(Text(x, top - 1.0, Label(layer.role), "middle", 0.4, "heading"))
        for index, ux, uy in units:
            if layer.role == "input":
                d.texts.append(Text(ux - RADIUS - 0.12, uy, Label("x", str(index), math=True), "end", kind="unit"))
            else:
                d.texts.append(
                    Text(ux + RADIUS + 0.12, uy, Label("x", str(index), hat=True, math=True), "start", kind="unit")
                )
    if layer.outputs is not None:
        # The likelihood's parameters, not the values themselves: say how many units they take.
        per_value = layer.outputs / layer.width
        each = f"{per_value:g} per value" if per_value == int(per_value) else f"for {layer.width} values"
        d.texts.append(Text(x, bottom + 0.75, Label(f"{layer.outputs} units:"), "middle", 0.3, "width"))
        d.texts.append(Text(x, bottom + 1.15, Label(each), "middle", 0.3, "width"))
    elif layer.width > MAX_SHOWN:
        d.texts.append(Text(x, bottom + 0.75, Label(f"{layer.width} units"), "middle", 0.3, "width"))
    return _Column(units, name, x - RADIUS, x + RADIUS)


def _framed(d: Drawing, units: list[tuple[int, float, float]], x: float, kind: str, fill: str, stroke: str) -> Box:
    top = min(y for _, _, y in units) - RADIUS - BOX_PAD
    bottom = max(y for _, _, y in units) + RADIUS + BOX_PAD
    half = RADIUS + BOX_PAD
    box = Box(x - half, top, 2 * half, bottom - top, kind, fill, stroke)
    d.boxes.append(box)
    return box


def _place_heads(d: Drawing, layer: GaussianHeads, x: float) -> _Column:
    n = len(shown_units(layer.width))
    gap = 1.4  # between the mu box and the sigma box, room for the sigma caption
    mu_top = -(2 * n - 1 + gap) / 2
    sigma_top = mu_top + n - 1 + 1 + gap
    mu = _add_units(d, "mu", layer.width, x, mu_top)
    sigma = _add_units(d, "sigma", layer.width, x, sigma_top)
    mu_box = _framed(d, mu, x, "mu", MU_FILL, MU_STROKE)
    sigma_box = _framed(d, sigma, x, "sigma", SIGMA_FILL, SIGMA_STROKE)
    d.texts.append(Text(x, mu_box.y - 0.35, Label("mu", math=True), "middle", 0.42, "caption"))
    d.texts.append(Text(x, sigma_box.y - 0.35, Label("sigma", math=True), "middle", 0.42, "caption"))
    if layer.width > MAX_SHOWN:
        d.texts.append(Text(x, sigma_box.y + sigma_box.h + 0.35, Label(f"{layer.width} units each"), "middle", 0.3, "width"))
    return _Column(mu + sigma, "heads", x - RADIUS, x + RADIUS, heads=(mu, sigma))


def _place_sample(d: Drawing, layer: Sample, x: float) -> _Column:
    return _place_z(d, layer.width, x, "sample", SAMPLE_FILL, SAMPLE_STROKE)


def _place_code(d: Drawing, layer: Code, x: float) -> _Column:
    return _place_z(d, layer.width, x, "code", CODE_FILL, CODE_STROKE)


def _place_z(d: Drawing, width: int, x: float, kind: str, fill: str, stroke: str) -> _Column:
    """Place the column z of ``width`` units at ``x`` in a box of ``kind`` (``sample``, or a
    deterministic model's ``code``), captioned with that word above and z below."""
    units = _add_units(d, "z", width, x)
    box = _framed(d, units, x, kind, fill, stroke)
    d.texts.append(Text(x, box.y - 0.35, Label(kind), "middle", 0.34, "caption"))
    d.texts.append(Text(x, box.y + box.h + 0.35, Label("z", math=True), "middle", 0.42, "caption"))
    if width > MAX_SHOWN:
        d.texts.append(Text(x, box.y + box.h + 0.85, Label(f"{width} units"), "middle", 0.3, "width"))
    return _Column(units, "z", x - RADIUS, x + RADIUS)


def _place_condition(d: Drawing, condition: Condition, columns: dict[str, _Column]) -> None:
    """Draw y as a column under the input (below everything drawn so far, so that its path
    crosses no box); its units meet at one point, from which a line runs right under the
    drawing and rises to each layer it feeds, fanning out into every unit (or the block) of
    it, as y is appended to that layer's input."""
    unknown = [name for name in condition.feeds if name not in columns]
    if unknown:
        raise ValueError(f"the condition feeds {unknown}, which are not layers of the drawing: {list(columns)}")
    first = next(iter(columns.values()))  # the input
    units = _condition_column(d, condition, (first.left + first.right) / 2)
    ys = [uy for _, _, uy in units]
    bus_y = (min(ys) + max(ys)) / 2
    meet = units[0][1] + RADIUS + CONDITION_MEET
    d.lines += [Line(ux + RADIUS, uy, meet, bus_y, "condition") for _, ux, uy in units]
    fans = [columns[name] for name in condition.feeds]
    if fans:
        d.lines.append(Line(meet, bus_y, max(c.left for c in fans) - CONDITION_FAN, bus_y, "condition"))
    for column in fans:
        _fan_condition(d, column, bus_y)


def _condition_column(d: Drawing, condition: Condition, x: float) -> list[tuple[int, float, float]]:
    """Place y's units at ``x`` below the drawing, as the input's: a heading, y_1..y_C at
    their left and what y is underneath; return the units drawn."""
    _, _, _, bottom = d.bounds()
    units = _add_units(d, "y", condition.width, x, bottom + 1.6)
    top, low = min(y for _, _, y in units), max(y for _, _, y in units)
    d.texts.append(Text(x, top - 1.0, Label("condition"), "middle", 0.4, "heading"))
    d.texts += [Text(x - RADIUS - 0.12, uy, Label("y", str(i), math=True), "end", kind="unit") for i, _, uy in units]
    if condition.detail:
        d.texts.append(Text(x, low + 0.75, Label(condition.detail), "middle", 0.3, "width"))
    return units


def _fan_condition(d: Drawing, column: _Column, bus_y: float) -> None:
    """Draw the condition's path from the line at ``bus_y`` into ``column``: up to the height
    of its lowest unit, then to the left of each of its units (both heads' for the heads); for
    a block, up to and into its left side below where the input enters."""
    x = column.left - CONDITION_FAN
    if column.block_y is not None:
        y = column.block_y + BLOCK_HEIGHT / 4
        d.lines += [Line(x, bus_y, x, y, "condition"), Line(x, y, column.left, y, "condition")]
        return
    y = max(uy for _, _, uy in column.units)
    d.lines.append(Line(x, bus_y, x, y, "condition"))
    d.lines += [Line(x, y, ux - RADIUS, uy, "condition") for _, ux, uy in column.units]


def block_width(layer: ConvBlock) -> float:
    """Return the width of ``layer``'s box: the standard width, or wider for its text."""
    texts = [Text(0, 0, Label(layer.label), size=BLOCK_LABEL), Text(0, 0, Label(layer.detail), size=BLOCK_DETAIL)]
    return max(BLOCK_WIDTH, max(text_width(t) for t in texts) + 0.3)


def _place_block(d: Drawing, layer: ConvBlock, x: float, position: int) -> _Column:
    w, h = block_width(layer), BLOCK_HEIGHT
    fill, stroke = (CONV_FILL, CONV_STROKE) if layer.kind == "conv" else (MODULE_FILL, MODULE_STROKE)
    d.boxes.append(Box(x - w / 2, -h / 2, w, h, layer.kind, fill, stroke))
    d.texts.append(Text(x, -0.25, Label(layer.label), "middle", BLOCK_LABEL, "block"))
    if layer.detail:
        d.texts.append(Text(x, 0.25, Label(layer.detail), "middle", BLOCK_DETAIL, "block"))
    if layer.shape:
        # What one example leaves the block as, where a dense column writes its width.
        d.texts.append(Text(x, h / 2 + 0.4, Label(layer.shape), "middle", 0.3, "width"))
    return _Column([], layer.name or f"block{position}", x - w / 2, x + w / 2, block_y=0.0)


def _connect(d: Drawing, a: _Column, b: _Column, layer: Layer) -> None:
    if isinstance(layer, Sample):
        # z_i = mu_i + sigma_i * eps_i: each z_i is fed by its own mu_i and sigma_i only.
        if a.heads is None:
            raise ValueError("a Sample layer must follow GaussianHeads")
        mu, sigma = a.heads
        for (_, zx, zy), (_, mx, my), (_, sx, sy) in zip(b.units, mu, sigma, strict=True):
            d.lines.append(Line(mx + RADIUS, my, zx - RADIUS, zy, "arrow"))
            d.lines.append(Line(sx + RADIUS, sy, zx - RADIUS, zy, "arrow"))
        return
    if a.block_y is not None and b.block_y is not None:
        d.lines.append(Line(a.right, a.block_y, b.left, b.block_y, "flow"))
        return
    if a.block_y is not None:
        d.lines += [Line(a.right, a.block_y, bx - RADIUS, by, "flow") for _, bx, by in b.units]
        return
    if b.block_y is not None:
        d.lines += [Line(ax + RADIUS, ay, b.left, b.block_y, "flow") for _, ax, ay in a.units]
        return
    for _, ax, ay in a.units:
        for _, bx, by in b.units:
            d.lines.append(Line(ax + RADIUS, ay, bx - RADIUS, by, "edge"))
