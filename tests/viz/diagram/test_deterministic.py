"""A deterministic autoencoder's diagram: encoder -> code z -> decoder, with no mu, sigma or
sample, since its encoder gives the code itself."""

from __future__ import annotations

import pytest

from vaekit.models import MODELS
from vaekit.models.ae import Autoencoder
from vaekit.models.vae import VAE
from vaekit.viz.diagram import Code, Dense, GaussianHeads, Sample, architecture_from_config, dense_vae, diagram_source

from .helpers import bound_config, boxes, elements, line_ends, svg_root, texts, units


@pytest.fixture(scope="module")
def ae_arch():
    return architecture_from_config(bound_config(model="ae", encoder=[6, 4], latent_dim=3))


def test_the_autoencoder_is_drawn_as_encoder_code_decoder(ae_arch):
    assert ae_arch.layers == dense_vae(64, [6, 4], 3, [4, 6], deterministic=True).layers
    assert Code(3) in ae_arch.layers
    assert not any(isinstance(layer, (GaussianHeads, Sample)) for layer in ae_arch.layers)
    root = svg_root(ae_arch)
    assert boxes(root) == ["box-code"]
    drawn = units(root)
    assert "mu" not in drawn and "sigma" not in drawn and drawn["z"] == 3
    assert not elements(root, "line", "arrow")  # no mu_i, sigma_i -> z_i
    assert set(texts(root, "caption")) == {"code", "z"}  # no mu, sigma, "sample"
    # The code is a dense layer: fed by every unit of the encoder's last layer, feeding the decoder's first.
    edges = set(line_ends(root, "edge"))
    assert {(("enc2", i), ("z", j)) for i in range(1, 5) for j in range(1, 4)} <= edges
    assert {(("z", i), ("dec1", j)) for i in range(1, 4) for j in range(1, 5)} <= edges


def test_the_autoencoder_has_no_heads_or_sample_in_any_format(ae_arch):
    tex, typ = diagram_source(ae_arch, "tikz"), diagram_source(ae_arch, "typst")
    for source in (tex, typ):
        assert "box-code" in source
        assert not any(kind in source for kind in ("box-mu", "box-sigma", "box-sample"))
    assert r"$\sigma$" not in tex and r"\draw[arrow]" not in tex and "{code}" in tex
    assert "[$sigma$]" not in typ and "\n  arrow(" not in typ and '[#"code"]' in typ


def test_the_autoencoder_on_the_conv_net_has_its_code_in_place_of_the_heads():
    arch = architecture_from_config(bound_config(model="ae", net="conv", latent_dim=3))
    kinds = [type(layer).__name__ for layer in arch.layers]
    assert "GaussianHeads" not in kinds and "Sample" not in kinds
    # input, two conv stages, two dense layers, the code, then the decoder's first dense layer
    assert kinds[:7] == ["Dense", "ConvBlock", "ConvBlock", "Dense", "Dense", "Code", "Dense"]
    assert arch.layers[5] == Code(3)
    assert arch.note == ""


def test_a_family_is_drawn_as_deterministic_by_its_class_not_its_name(registries):
    @MODELS.register("plain-ae-diagram-test")
    class PlainAE(Autoencoder):
        pass

    @MODELS.register("my-vae-diagram-test")
    class MyVAE(VAE):
        pass

    assert Code(2) in architecture_from_config(bound_config(model="plain-ae-diagram-test", latent_dim=2)).layers
    assert Code(2) not in architecture_from_config(bound_config(model="my-vae-diagram-test", latent_dim=2)).layers


@pytest.mark.parametrize("family", sorted(MODELS))
def test_every_built_in_family_draws_what_it_has(family):
    """Heads and a sample for a variational family, the code for a deterministic one; y for a
    conditional one only."""
    cls = MODELS[family]
    arch = architecture_from_config(bound_config(model=family, encoder=[6], latent_dim=2))
    latent = [type(layer) for layer in arch.layers if not isinstance(layer, Dense)]
    assert latent == ([GaussianHeads, Sample] if cls.variational else [Code])
    assert (arch.condition is not None) == cls.conditional
