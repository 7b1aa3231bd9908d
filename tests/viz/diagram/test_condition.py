"""A conditional model's diagram draws its condition y: an input under x, labelled with what it
is, whose lines go into the layer of the encoder and the layer of the decoder that take it."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest
import torch
from torch import nn

from vaekit.viz.diagram import (
    Architecture,
    Condition,
    ConvBlock,
    Dense,
    GaussianHeads,
    Sample,
    architecture_from_config,
    diagram_source,
    layout,
)
from vaekit.viz.diagram.layers import condition_feeds

from .helpers import bound_config, line_ends, svg_root, texts, units

#: the drawn units of a condition of 10 classes: three, an ellipsis, the last
Y_UNITS = {("y", i) for i in (1, 2, 3, 10)}


def condition_targets(root) -> tuple[set, set]:
    """The neurons the condition's lines start on and end on."""
    ends = line_ends(root, "condition")
    return {a for a, _ in ends if a is not None}, {b for _, b in ends if b is not None}


@pytest.fixture(scope="module")
def cvae_arch():
    return architecture_from_config(bound_config(model="cvae", encoder=[6, 4], latent_dim=3))


def test_a_cvae_draws_its_condition_y_into_the_encoder_and_the_decoder(cvae_arch):
    assert cvae_arch.condition == Condition(10, "10 classes, one-hot", ("enc1", "dec1"))
    root = svg_root(cvae_arch)
    assert units(root)["y"] == 4
    assert [t for t in texts(root, "unit") if t.startswith("y")] == ["y1", "y2", "y3", "y10"]
    assert "condition" in texts(root, "heading") and "10 classes, one-hot" in texts(root, "width")
    starts, ends = condition_targets(root)
    # y is appended to the input of the first dense layer on each side: every unit of it takes y.
    assert starts == Y_UNITS
    assert ends == {("enc1", i) for i in range(1, 7)} | {("dec1", i) for i in range(1, 5)}


def test_the_condition_is_drawn_in_every_format(cvae_arch):
    lines = len(line_ends(svg_root(cvae_arch), "condition"))
    tex = diagram_source(cvae_arch, "tikz")
    assert tex.count(r"\draw[condition]") == lines and "condition/.style" in tex
    assert r"$y_{10}$" in tex and "{condition}" in tex and "{10 classes, one-hot}" in tex
    typ = diagram_source(cvae_arch, "typst")
    calls = Counter(m.group(1) for m in re.finditer(r"^  (\w+)\(", typ, re.MULTILINE))
    assert calls["condition"] == lines and "let condition(a, b)" in typ
    assert "[$y_10$]" in typ and '[#"10 classes, one-hot"]' in typ


def test_an_unconditional_model_draws_no_condition():
    arch = architecture_from_config(bound_config(model="vae", encoder=[6, 4], latent_dim=3))
    assert arch.condition is None
    assert "y" not in units(svg_root(arch))
    assert "condition" not in diagram_source(arch, "tikz") and "condition" not in diagram_source(arch, "typst")


def test_a_conditional_conv_net_is_traced_layer_by_layer_with_y_into_its_first_dense_layers():
    from vaekit.training.build import meta_model

    config = bound_config(model="cvae", net="conv", latent_dim=3)
    arch = architecture_from_config(config)
    assert arch.note == ""  # traced layer by layer, not one box each
    assert [b.label for b in arch.layers if isinstance(b, ConvBlock)] == [
        "conv 32", "conv 64", "deconv 32", "deconv 32", "conv 1"
    ]  # fmt: skip
    assert arch.condition.feeds == ("enc3", "dec1")
    named = {layer.name: layer for layer in arch.layers if isinstance(layer, Dense)}
    assert named["enc3"] == Dense(256, name="enc3") and named["dec1"] == Dense(128, name="dec1")
    # Those are the layers whose inputs have room for y: after the conv stages' 64x2x2, after z.
    model = meta_model(config)
    assert model.encoder.body.layers[0].in_features == 64 * 2 * 2 + 10
    assert model.decoder.body.layers[0].in_features == 3 + 10
    assert condition_targets(svg_root(arch))[1] >= {("enc3", 1), ("dec1", 1)}


def test_without_hidden_layers_y_feeds_the_heads_and_the_output():
    arch = architecture_from_config(
        bound_config(model="cvae", net={"name": "mlp", "encoder": [], "decoder": []}, latent_dim=2)
    )
    assert arch.condition.feeds == ("heads", "output")
    _, ends = condition_targets(svg_root(arch))
    assert ends == {("mu", 1), ("mu", 2), ("sigma", 1), ("sigma", 2)} | {("output", i) for i in (1, 2, 3, 64)}


def test_a_tables_condition_says_which_columns_it_is(tmp_path):
    path = tmp_path / "penguins.csv"
    species = ["Adelie", "Gentoo", "Chinstrap"] * 20
    pd.DataFrame(
        {"species": species, "bill": [float(i % 7) for i in range(60)], "mass": [3000.25 + 10 * i for i in range(60)]}
    ).to_csv(path, index=False)
    config = bound_config(data=str(path), condition_on=["species"], encoder=[8], latent_dim=2)
    arch = architecture_from_config(config)
    assert arch.condition.detail == "3 values of species, one-hot"
    assert "3 values of species, one-hot" in texts(svg_root(arch), "width")


def test_where_the_net_is_drawn_as_boxes_y_goes_into_the_first_box_of_each_side():
    encoder = [ConvBlock("conv 8"), ConvBlock("net encoder", name="encoder", kind="net")]
    decoder = [ConvBlock("net decoder", name="decoder", kind="net")]
    assert condition_feeds(encoder, decoder, deterministic=False) == ("encoder", "decoder")
    assert condition_feeds([ConvBlock("conv 8", name="enc1")], [], deterministic=True) == ("z", "output")
    arch = Architecture(
        (Dense(4, "input", "input"), *encoder, GaussianHeads(2), Sample(2), *decoder, Dense(4, "output", "output")),
        condition=Condition(3, "3 classes, one-hot", ("encoder", "decoder")),
    )
    d = layout(arch)
    lefts = {b.x for b in d.boxes if b.kind == "net"}
    assert {round(line.x2, 6) for line in d.lines if line.kind == "condition"} >= {round(x, 6) for x in lefts}
    with pytest.raises(ValueError, match="not layers of the drawing"):
        layout(Architecture(arch.layers, condition=Condition(3, feeds=("enc9",))))


class CondEncoder(nn.Module):
    """A plugin's conditional encoder: y joins x at its first layer."""

    def __init__(self, d: int, c: int, latent: int) -> None:
        super().__init__()
        self.inp = nn.Linear(d + c, 16)
        self.mu, self.logvar = nn.Linear(16, latent), nn.Linear(16, latent)

    def forward(self, x, cond=None):
        h = torch.relu(self.inp(torch.cat([x, cond], -1)))
        return self.mu(h), self.logvar(h)


class CondDecoder(nn.Module):
    def __init__(self, latent: int, c: int, out: int) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(latent + c, 16), nn.Linear(16, out)

    def forward(self, z, cond=None):
        return self.out(torch.relu(self.inp(torch.cat([z, cond], -1))))


def cond_test_net(spec):
    return (
        CondEncoder(spec.input_dim, spec.cond_dim, spec.latent_dim),
        CondDecoder(spec.latent_dim, spec.cond_dim, spec.decoder_outputs),
    )


def test_a_plugin_nets_modules_get_y_in_their_first_box_and_the_note_says_so(registries):
    from vaekit.nets.registry import register_net

    register_net("cond-diagram-test")(cond_test_net)
    arch = architecture_from_config(bound_config(model="cvae", net="cond-diagram-test", latent_dim=2))
    boxes = [(b.name, b.label) for b in arch.layers if isinstance(b, ConvBlock)]
    assert boxes == [("enc1", "inp: Linear"), ("dec1", "inp: Linear"), ("dec2", "out: Linear")]
    assert arch.condition.feeds == ("enc1", "dec1")
    assert arch.note.endswith("y is drawn into the first box of each side, which may not be the module that reads it")
