"""The architecture diagram: exact neurons and edges of the founding figure in every format."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from vaekit.viz.diagram import (
    Architecture,
    ConvBlock,
    Dense,
    GaussianHeads,
    Sample,
    architecture_for_preset,
    architecture_from_config,
    dense_vae,
    diagram_source,
)
from vaekit.viz.diagram.layout import MAX_SHOWN

SVG = "{http://www.w3.org/2000/svg}"
SEED_UNITS = {"input": 5, "enc1": 4, "enc2": 3, "mu": 3, "sigma": 3, "z": 3, "dec1": 3, "dec2": 4, "output": 5}
SEED_EDGES = 5 * 4 + 4 * 3 + 3 * 3 * 2 + 3 * 3 + 3 * 4 + 4 * 5
#: Fully connected neighbours in the seed network (the mu/sigma -> z arrows are separate).
SEED_LINKS = [
    ("input", "enc1"),
    ("enc1", "enc2"),
    ("enc2", "mu"),
    ("enc2", "sigma"),
    ("z", "dec1"),
    ("dec1", "dec2"),
    ("dec2", "output"),
]


@pytest.fixture(scope="module")
def seed_arch():
    return architecture_for_preset("seed")


@pytest.fixture(scope="module")
def seed_svg(seed_arch):
    return ET.fromstring(diagram_source(seed_arch, "svg"))


def elements(root, tag, cls):
    return [e for e in root.iter(SVG + tag) if e.get("class") == cls]


def text_of(e):
    return "".join(e.itertext())


def test_seed_preset_is_the_founding_network(seed_arch):
    assert seed_arch.layers == dense_vae(5, [4, 3], 3, [3, 4]).layers


def test_seed_svg_has_exactly_the_founding_neurons(seed_svg):
    neurons = elements(seed_svg, "circle", "neuron")
    assert Counter(n.get("data-layer") for n in neurons) == SEED_UNITS
    assert len({n.get("id") for n in neurons}) == len(neurons) == 33


def _circle_at(neurons, x, y):
    """The neuron whose rim the point (x, y) lies on."""
    for n in neurons:
        cx, cy, r = (float(n.get(k)) for k in ("cx", "cy", "r"))
        if abs(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 - r) < 1.0:
            return n.get("data-layer"), int(n.get("data-index"))
    raise AssertionError(f"no neuron at ({x}, {y})")


def _links(root, cls):
    neurons = elements(root, "circle", "neuron")
    out = []
    for line in elements(root, "line", cls):
        x1, y1, x2, y2 = (float(line.get(k)) for k in ("x1", "y1", "x2", "y2"))
        out.append((_circle_at(neurons, x1, y1), _circle_at(neurons, x2, y2)))
    return out


def test_seed_svg_draws_every_edge_between_neighbouring_layers_once(seed_svg):
    edges = _links(seed_svg, "edge")
    assert len(edges) == SEED_EDGES == 91
    expected = {
        ((a, i), (b, j))
        for a, b in SEED_LINKS
        for i in range(1, SEED_UNITS[a] + 1)
        for j in range(1, SEED_UNITS[b] + 1)
    }
    assert set(edges) == expected and len(set(edges)) == len(edges)


def test_seed_svg_feeds_each_sample_unit_from_its_mu_and_sigma(seed_svg):
    arrows = _links(seed_svg, "arrow")
    assert sorted(arrows) == sorted(
        [(("mu", i), ("z", i)) for i in (1, 2, 3)] + [(("sigma", i), ("z", i)) for i in (1, 2, 3)]
    )
    assert all(a.get("marker-end") for a in elements(seed_svg, "line", "arrow"))


def test_seed_svg_boxes_labels_and_headings(seed_svg):
    boxes = {
        r.get("class"): r.get("fill") for r in seed_svg.iter(SVG + "rect") if r.get("class", "").startswith("box-")
    }
    assert boxes == {"box-mu": "#fff2b3", "box-sigma": "#cfe0fb", "box-sample": "#d3f0d0"}  # yellow, blue, green
    units = [text_of(t) for t in elements(seed_svg, "text", "unit")]
    assert units == [f"x{i}" for i in range(1, 6)] + [f"x\u0302{i}" for i in range(1, 6)]
    headings = [text_of(t) for t in elements(seed_svg, "text", "heading")]
    assert headings == ["input", "output"]
    captions = {text_of(t) for t in elements(seed_svg, "text", "caption")}
    assert {"\u03bc", "\u03c3", "sample"} <= captions


def test_large_layers_draw_a_few_circles_an_ellipsis_and_the_width():
    root = ET.fromstring(diagram_source(dense_vae(784, [512, 256], 20, [256, 512]), "svg"))
    per_layer = Counter(n.get("data-layer") for n in elements(root, "circle", "neuron"))
    assert max(per_layer.values()) <= MAX_SHOWN
    assert per_layer["input"] == 4 and per_layer["mu"] == 4
    widths = {text_of(t) for t in elements(root, "text", "width")}
    assert widths == {"784 units", "512 units", "256 units", "20 units each", "20 units"}  # each: mu and sigma
    units = [text_of(t) for t in elements(root, "text", "unit")]
    assert "x784" in units and "x4" not in units
    assert len(elements(root, "text", "ellipsis")) == 2 + 2 + 2 + 3  # input/output, 4 hidden, mu, sigma, z
    assert len(elements(root, "line", "edge")) == 7 * 4 * 4  # 7 fully connected pairs of 4 drawn units


def test_conv_blocks_are_drawn_as_labelled_boxes_in_every_format():
    arch = Architecture(
        (
            Dense(784, "input", "input"),
            ConvBlock("conv 32", "4x4, stride 2"),
            Dense(64, name="enc2"),
            GaussianHeads(4),
            Sample(4),
            Dense(64, name="dec1"),
            ConvBlock("deconv 32"),
            Dense(784, "output", "output"),
        )
    )
    root = ET.fromstring(diagram_source(arch, "svg"))
    assert len([r for r in root.iter(SVG + "rect") if r.get("class") == "box-conv"]) == 2
    assert {text_of(t) for t in elements(root, "text", "block")} == {"conv 32", "4x4, stride 2", "deconv 32"}
    assert len(elements(root, "line", "flow")) == 4 * 4  # fanned into and out of each block
    assert "box-conv" in diagram_source(arch, "tikz") and "box-conv" in diagram_source(arch, "typst")


def test_tikz_source_has_the_same_shapes(seed_arch):
    tex = diagram_source(seed_arch, "tikz")
    assert tex.count(r"\draw[edge]") == SEED_EDGES
    assert tex.count(r"\draw[arrow]") == 6
    assert tex.count(r"\draw[neuron]") == 33
    assert r"$\hat{x}_{5}$" in tex and r"$\mu$" in tex and "{input}" in tex
    assert "standalone" not in tex.split(r"\begin{document}")[0]  # needs only texlive-latex-base + pictures


def test_typst_source_uses_cetz_with_the_same_shapes(seed_arch):
    typ = diagram_source(seed_arch, "typst")
    assert re.search(r'#import "@preview/cetz:[\d.]+": canvas, draw', typ)
    calls = Counter(m.group(1) for m in re.finditer(r"^  (\w+)\(", typ, re.MULTILINE))
    assert calls["edge"] == SEED_EDGES and calls["arrow"] == 6 and calls["neuron"] == 33
    assert calls["shaded"] == 3
    assert "[$hat(x)_5$]" in typ and "[$sigma$]" in typ


def test_unknown_format_is_a_config_error(seed_arch):
    from vaekit.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="svg"):
        diagram_source(seed_arch, "png")


#: families whose diagrams add kinds of shape: the code box, the condition y (conv: traced)
COMPILED_FAMILIES = {"ae": {"model": "ae"}, "cvae": {"model": "cvae"}, "cvae-conv": {"model": "cvae", "net": "conv"}}


def compiled_architectures(seed_arch: Architecture) -> dict[str, Architecture]:
    """The diagrams the slow tests compile: the seed, a wide one, and one of each family above."""
    from .diagram.helpers import bound_config

    families = {
        name: architecture_from_config(bound_config(encoder=[6, 4], latent_dim=3, **options))
        for name, options in COMPILED_FAMILIES.items()
    }
    return {"seed": seed_arch, "big": dense_vae(784, [512], 16, [512]), **families}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (make test-slow installs it)")
def test_tikz_compiles_with_pdflatex(seed_arch, tmp_path):
    for name, arch in compiled_architectures(seed_arch).items():
        (tmp_path / f"{name}.tex").write_text(diagram_source(arch, "tikz"))
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-2000:]
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert f"Output written on {name}.pdf (1 page" in result.stdout


TYPST_COMPILE = """
import sys, typst
typst.compile(sys.argv[1], output=sys.argv[2], format="png", ppi=72)
"""


@pytest.mark.slow
def test_typst_compiles_against_a_cetz_stand_in(seed_arch, tmp_path):
    """Typst syntax and the draw calls' arguments are checked by compiling offline against a
    local package with CeTZ's signatures (tests/viz/cetz_stub); `make test-slow` installs typst."""
    pytest.importorskip("typst")
    from pathlib import Path

    from vaekit.viz.diagram.typst import CETZ_VERSION

    package = tmp_path / "cache" / "typst" / "packages" / "preview" / "cetz" / CETZ_VERSION
    shutil.copytree(Path(__file__).parent / "cetz_stub", package)
    for name, arch in compiled_architectures(seed_arch).items():
        source = tmp_path / f"{name}.typ"
        source.write_text(diagram_source(arch, "typst"))
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        result = subprocess.run(
            [sys.executable, "-c", TYPST_COMPILE, str(source), str(tmp_path / f"{name}.png")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_a_hierarchy_or_a_flow_says_what_the_diagram_leaves_out():
    from vaekit.viz.diagram.layers import left_out

    assert left_out("vae", {}) == ""
    assert left_out("hvae", {"upper_latents": [8, 4]}) == (
        "z is z1 of the hvae hierarchy; its upper stochastic layers (8, 4 units) are not drawn"
    )
    assert left_out("vae", {"flow_steps": 2}) == "q(z|x) goes on through 2 IAF steps, not drawn"


def test_an_output_of_several_parameters_per_value_says_how_many_units_it_takes():
    root = ET.fromstring(diagram_source(dense_vae(64, [8], 2, [8], outputs=128), "svg"))
    widths = [text_of(t) for t in elements(root, "text", "width")]
    assert widths[-2:] == ["128 units:", "2 per value"]
    per_layer = Counter(n.get("data-layer") for n in elements(root, "circle", "neuron"))
    assert per_layer["output"] == per_layer["input"]  # still drawn as the values it gives
    plain = ET.fromstring(diagram_source(dense_vae(64, [8], 2, [8], outputs=64), "svg"))
    assert "2 per value" not in {text_of(t) for t in elements(plain, "text", "width")}


@pytest.mark.parametrize("likelihood, outputs", [("bernoulli", 64), ("discretized-logistic", 128)])
def test_a_runs_decoder_outputs_are_the_likelihoods_parameters(likelihood, outputs):
    from vaekit.api import build_config
    from vaekit.training.run_data import bind_to_data, load_bundle
    from vaekit.viz.diagram.layers import decoder_outputs

    config = build_config(data="digits", likelihood=likelihood, encoder=[8], latent_dim=2)
    bind_to_data(config, load_bundle(config))
    assert decoder_outputs(config) == outputs
