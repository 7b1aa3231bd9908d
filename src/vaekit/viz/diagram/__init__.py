"""The architecture diagram (the project's founding figure) as SVG, TikZ or Typst.

    from vaekit.viz.diagram import architecture_for_preset, diagram_source
    svg = diagram_source(architecture_for_preset("seed"), "svg")

A config becomes a list of layers (``layers.py``), the layers become shapes on a plane
(``layout.py``), and one renderer per format writes those shapes (``svg.py``, ``tikz.py``,
``typst.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vaekit.runtime.errors import ConfigError
from vaekit.viz.diagram.from_config import architecture_from_config
from vaekit.viz.diagram.layers import (
    Architecture,
    Code,
    Condition,
    ConvBlock,
    Dense,
    GaussianHeads,
    Sample,
    dense_vae,
)
from vaekit.viz.diagram.layout import Drawing, layout
from vaekit.viz.diagram.svg import render_svg
from vaekit.viz.diagram.tikz import render_tikz
from vaekit.viz.diagram.typst import render_typst

RENDERERS: dict[str, Callable[[Drawing], str]] = {"svg": render_svg, "tikz": render_tikz, "typst": render_typst}
#: File suffix of each format.
SUFFIXES = {"svg": ".svg", "tikz": ".tex", "typst": ".typ"}


def diagram_source(arch: Architecture, fmt: str = "svg") -> str:
    """Return the diagram of ``arch`` as source text in ``fmt`` (``svg``, ``tikz`` or ``typst``)."""
    try:
        render = RENDERERS[fmt]
    except KeyError:
        raise ConfigError(f"unknown diagram format {fmt!r}; choose one of {sorted(RENDERERS)}") from None
    return render(layout(arch))


def architecture_for_run(run_dir: str | Path) -> Architecture:
    """Return the layers of the model in a run folder (reads config.json only, no weights)."""
    from vaekit.api import read_config

    return architecture_from_config(read_config(Path(run_dir)))


def architecture_for_preset(name: str) -> Architecture:
    """Return the layers of a preset's model (e.g. ``seed``), bound to the preset's data."""
    from vaekit.api import build_config
    from vaekit.training.run_data import bind_to_data, load_bundle

    config = build_config(preset=name)
    bind_to_data(config, load_bundle(config))
    return architecture_from_config(config)


__all__ = [
    "Architecture",
    "Code",
    "Condition",
    "ConvBlock",
    "Dense",
    "GaussianHeads",
    "RENDERERS",
    "SUFFIXES",
    "Sample",
    "architecture_for_preset",
    "architecture_for_run",
    "architecture_from_config",
    "dense_vae",
    "diagram_source",
    "layout",
]
