"""The architecture diagram of nets other than the dense one: the conv net layer by layer, a
plugin's net from the modules it calls, never the dense net's default widths."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

from vaekit.nets.registry import NETS, register_net
from vaekit.viz.diagram import ConvBlock, Dense, GaussianHeads, Sample, architecture_from_config, diagram_source
from vaekit.viz.diagram.layers import Architecture
from vaekit.viz.diagram.layout import BLOCK_WIDTH, COLUMN_GAP, layout

SVG = "{http://www.w3.org/2000/svg}"


def bound_config(**options):
    """A config on the digits (8x8 grey images, 64 values) bound to its data."""
    from vaekit.api import build_config
    from vaekit.training.run_data import bind_to_data, load_bundle

    config = build_config(data="digits", **options)
    bind_to_data(config, load_bundle(config))
    return config


def svg_texts(arch: Architecture, kind: str) -> list[str]:
    root = ET.fromstring(diagram_source(arch, "svg"))
    return ["".join(t.itertext()) for t in root.iter(SVG + "text") if t.get("class") == kind]


def svg_boxes(arch: Architecture) -> list[str]:
    root = ET.fromstring(diagram_source(arch, "svg"))
    return [r.get("class") for r in root.iter(SVG + "rect") if r.get("class", "").startswith("box-")]


def test_the_conv_net_is_drawn_as_the_conv_stages_and_dense_layers_it_builds():
    arch = architecture_from_config(bound_config(net="conv", latent_dim=4))
    stride2 = "3x3, stride 2"
    assert arch.layers == (
        Dense(64, "input", "input"),
        ConvBlock("conv 32", stride2, "enc1", "32x4x4"),
        ConvBlock("conv 64", stride2, "enc2", "64x2x2"),
        Dense(256, name="enc3"),
        Dense(128, name="enc4"),
        GaussianHeads(4),
        Sample(4),
        Dense(128, name="dec1"),
        Dense(256, name="dec2"),
        Dense(256, name="dec3"),  # the projection to the deepest feature map, 64x2x2
        ConvBlock("deconv 32", stride2, "dec4", "32x4x4"),
        ConvBlock("deconv 32", stride2, "dec5", "32x8x8"),
        ConvBlock("conv 1", "3x3, stride 1", "dec6", "1x8x8"),
        Dense(64, "output", "output"),
    )
    assert arch.note == ""
    assert svg_boxes(arch).count("box-conv") == 5
    assert {"32x4x4", "64x2x2", "32x8x8", "1x8x8"} <= set(svg_texts(arch, "width"))


def test_the_conv_nets_options_and_likelihood_change_its_drawing():
    arch = architecture_from_config(
        bound_config(net={"name": "conv", "channels": [8], "encoder": [16]}, likelihood="discretized-logistic")
    )
    blocks = [(b.label, b.shape) for b in arch.layers if isinstance(b, ConvBlock)]
    assert blocks == [("conv 8", "8x4x4"), ("deconv 8", "8x8x8"), ("conv 2", "2x8x8")]  # 2 parameters per pixel
    assert [d.width for d in arch.layers if isinstance(d, Dense)] == [64, 16, 16, 128, 64]
    assert arch.layers[-1].outputs == 128
    assert svg_texts(arch, "width")[-2:] == ["128 units:", "2 per value"]


def test_a_hierarchy_on_the_conv_net_keeps_its_note():
    arch = architecture_from_config(bound_config(model="hvae", net="conv", latent_dim=2))
    assert sum(isinstance(b, ConvBlock) for b in arch.layers) == 5
    assert arch.note.startswith("z is z1 of the hvae hierarchy")


def test_a_conditional_conv_nets_modules_are_traced_with_its_condition():
    from vaekit.training.build import build_model
    from vaekit.viz.diagram.traced import _chain_architecture

    config = bound_config(model="cvae", net="conv", latent_dim=2)
    model = build_model(config)
    before = [p.clone() for p in model.parameters()]
    arch = _chain_architecture(config, model, "")
    assert [b.label for b in arch.layers if isinstance(b, ConvBlock)] == [
        "conv 32", "conv 64", "deconv 32", "deconv 32", "conv 1"
    ]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)) and model.training


def test_the_dense_diagram_agrees_with_the_modules_the_mlp_net_builds():
    """The dense net is drawn from its config widths; tracing its modules gives the same layers."""
    from vaekit.training.build import meta_model
    from vaekit.viz.diagram.traced import _chain_architecture

    config = bound_config(net={"name": "mlp", "encoder": [32, 16], "decoder": [8]}, latent_dim=3)
    traced = _chain_architecture(config, meta_model(config), "")
    assert traced.layers == architecture_from_config(config).layers


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, h):
        return h + self.b(torch.relu(self.a(h)))  # the skip the drawing cannot show


class ResEncoder(nn.Module):
    def __init__(self, d: int, width: int, latent: int) -> None:
        super().__init__()
        self.inp = nn.Linear(d, width)
        self.blocks = nn.ModuleList([ResBlock(width), ResBlock(width)])  # called item by item
        self.mu, self.logvar = nn.Linear(width, latent), nn.Linear(width, latent)

    def forward(self, x, cond=None):
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        return self.mu(h), self.logvar(h)


class ResDecoder(nn.Module):
    def __init__(self, latent: int, width: int, out: int) -> None:
        super().__init__()
        self.inp = nn.Linear(latent, width)
        self.blocks = nn.Sequential(ResBlock(width), nn.ReLU())
        self.out = nn.Linear(width, out)

    def forward(self, z, cond=None):
        return self.out(self.blocks(self.inp(z)))


class OneMatrix(nn.Module):
    """An encoder with no submodules: one matrix whose outputs are mu and logvar."""

    def __init__(self, d: int, latent: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d, 2 * latent))

    def forward(self, x, cond=None):
        return tuple((x @ self.w).chunk(2, dim=-1))


class LinearDecoder(nn.Module):
    def __init__(self, latent: int, out: int) -> None:
        super().__init__()
        self.out = nn.Linear(latent, out)

    def forward(self, z, cond=None):
        return self.out(z)


def resmlp_test_net(spec, width: int = 128):
    return ResEncoder(spec.input_dim, width, spec.latent_dim), ResDecoder(spec.latent_dim, width, spec.decoder_outputs)


def matrix_test_net(spec):
    return OneMatrix(spec.input_dim, spec.latent_dim), LinearDecoder(spec.latent_dim, spec.decoder_outputs)


@pytest.fixture
def plugin_nets():
    """Two plugin nets registered as a user's file would, removed again after the test."""
    register_net("resmlp-diagram-test")(resmlp_test_net)
    register_net("matrix-diagram-test")(matrix_test_net)
    yield
    NETS.pop("resmlp-diagram-test")
    NETS.pop("matrix-diagram-test")


def test_a_plugin_net_is_drawn_as_the_modules_it_calls_never_as_default_widths(plugin_nets):
    arch = architecture_from_config(bound_config(net={"name": "resmlp-diagram-test", "width": 48}, latent_dim=5))
    assert [type(layer).__name__ for layer in arch.layers] == ["Dense"] + ["ConvBlock"] * 3 + [
        "GaussianHeads", "Sample"
    ] + ["ConvBlock"] * 3 + ["Dense"]
    blocks = [(b.label, b.detail, b.shape, b.kind) for b in arch.layers if isinstance(b, ConvBlock)]
    res = (48 * 48 + 48) * 2
    assert blocks == [
        ("inp: Linear", f"{64 * 48 + 48:,} parameters", "48 units", "module"),
        ("blocks.0: ResBlock", f"{res:,} parameters", "48 units", "module"),
        ("blocks.1: ResBlock", f"{res:,} parameters", "48 units", "module"),
        ("inp: Linear", f"{5 * 48 + 48} parameters", "48 units", "module"),
        ("blocks: Sequential", f"{res:,} parameters", "48 units", "module"),
        ("out: Linear", f"{48 * 64 + 64:,} parameters", "64 units", "module"),
    ]
    assert (arch.layers[0].width, arch.layers[4].width, arch.layers[-1].width) == (64, 5, 64)
    assert "not drawn" in arch.note and "resmlp-diagram-test" in arch.note
    widths = svg_texts(arch, "width")
    assert "256 units" not in widths and "128 units" not in widths  # the dense net's defaults
    assert svg_boxes(arch).count("box-module") == 6 and "box-conv" not in svg_boxes(arch)
    assert svg_texts(arch, "note") == [arch.note]


def test_a_net_whose_modules_cannot_be_drawn_one_by_one_is_one_box_each_with_its_sizes(plugin_nets):
    arch = architecture_from_config(bound_config(net="matrix-diagram-test", latent_dim=3))
    assert arch.layers == (
        Dense(64, "input", "input"),
        ConvBlock("matrix-diagram-test encoder", f"{64 * 6} parameters", "encoder", kind="net"),
        GaussianHeads(3),
        Sample(3),
        ConvBlock("matrix-diagram-test decoder", f"{3 * 64 + 64} parameters", "decoder", kind="net"),
        Dense(64, "output", "output"),
    )
    assert arch.note == (
        "the matrix-diagram-test net's encoder and decoder are drawn as one box each: "
        "its encoder calls no submodule, so their layers are not drawn"
    )
    assert svg_boxes(arch).count("box-net") == 2
    for fmt in ("tikz", "typst"):
        assert "matrix-diagram-test encoder" in diagram_source(arch, fmt)


def test_a_block_wider_than_its_column_moves_the_columns_after_it():
    narrow = layout(Architecture((Dense(3, "input"), ConvBlock("conv 8"), Dense(3, "output"))))
    wide = layout(Architecture((Dense(3, "input"), ConvBlock("blocks.0: AVeryLongModuleName"), Dense(3, "output"))))
    box_narrow, box_wide = narrow.boxes[0], wide.boxes[0]
    assert box_narrow.w == BLOCK_WIDTH and box_wide.w > BLOCK_WIDTH
    assert max(c.x for c in narrow.circles) == 2 * COLUMN_GAP
    assert max(c.x for c in wide.circles) == pytest.approx(2 * COLUMN_GAP + box_wide.w - BLOCK_WIDTH)
    assert box_wide.x + box_wide.w < max(c.x for c in wide.circles) - 0.3  # no overlap with the output
