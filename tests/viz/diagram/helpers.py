"""Reading the diagram's SVG back, and configs bound to the bundled digits, for the diagram tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from vaekit.viz.diagram import Architecture, diagram_source

SVG = "{http://www.w3.org/2000/svg}"


def bound_config(**options: Any) -> Any:
    """A config (digits, 8x8 grey images of 10 classes, by default) bound to its data."""
    from vaekit.api import build_config
    from vaekit.training.run_data import bind_to_data, load_bundle

    config = build_config(**{"data": "digits", **options})
    bind_to_data(config, load_bundle(config))
    return config


def svg_root(arch: Architecture) -> ET.Element:
    return ET.fromstring(diagram_source(arch, "svg"))


def elements(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if e.get("class") == cls]


def texts(root: ET.Element, cls: str) -> list[str]:
    return ["".join(e.itertext()) for e in elements(root, "text", cls)]


def boxes(root: ET.Element) -> list[str]:
    return [r.get("class") for r in root.iter(SVG + "rect") if r.get("class", "").startswith("box-")]


def units(root: ET.Element) -> Counter:
    """The drawn circles of each layer."""
    return Counter(n.get("data-layer") for n in elements(root, "circle", "neuron"))


def neuron_at(root: ET.Element, x: float, y: float) -> tuple[str, int] | None:
    """The (layer, index) of the neuron whose rim the point (x, y) lies on, None for none."""
    for n in elements(root, "circle", "neuron"):
        cx, cy, r = (float(n.get(k)) for k in ("cx", "cy", "r"))
        if abs(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 - r) < 1.0:
            return n.get("data-layer"), int(n.get("data-index"))
    return None


def line_ends(root: ET.Element, cls: str) -> list[tuple[tuple[str, int] | None, tuple[str, int] | None]]:
    """The neurons each line of class ``cls`` starts and ends on (None: not on a neuron)."""
    out = []
    for line in elements(root, "line", cls):
        x1, y1, x2, y2 = (float(line.get(k)) for k in ("x1", "y1", "x2", "y2"))
        out.append((neuron_at(root, x1, y1), neuron_at(root, x2, y2)))
    return out
