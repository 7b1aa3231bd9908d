"""The fast paths take the built-in classes they were written for, by exact type: a subclass,
even one that overrides nothing, trains through its objective and evaluates through the generic
chunk, so that a family's own encode/decode/forward/log_weights is never left out."""

import json

import pytest
import torch

import vaekit
from vaekit import fast
from vaekit.evaluation.iwae import chunk_log_weights
from vaekit.fast.families import family_unsupported
from vaekit.fast.fused_chunk import fused_chunk_unsupported
from vaekit.fast.fused_step import fused_step_unsupported
from vaekit.models import VAE, HierarchicalGaussianVAE

from .small_models import small_model


class PlainSub(VAE):
    """A family that overrides nothing."""


class SharpDecode(VAE):
    """A family whose decoder's logits are tripled."""

    def decode(self, z, y=None):
        return 3.0 * super().decode(z, y)


class SharpEncode(VAE):
    """A family whose posterior means are shifted."""

    def encode(self, x, y=None):
        mu, logvar = super().encode(x, y)
        return mu + 1.0, logvar


class PlainHierarchy(HierarchicalGaussianVAE):
    """A hierarchy that overrides nothing."""


@pytest.fixture
def models_registry(registries):
    """The model registry, with whatever a test registers removed after it."""
    return registries["model"]


@pytest.mark.parametrize("cls", [PlainSub, SharpDecode, SharpEncode])
def test_a_subclass_of_a_fused_family_takes_neither_the_fused_step_nor_the_fused_chunk(cls):
    model, objective = small_model("vae")
    assert fused_step_unsupported(model, objective) is None and fused_chunk_unsupported(model) is None
    model.__class__ = cls
    for why in (fused_step_unsupported(model, objective), fused_chunk_unsupported(model)):
        assert why is not None and f"model {cls.__name__} is not a built-in" in why
    assert fast.training_step_for(model, objective, torch.optim.Adam(model.parameters())) is None
    assert fast.nll_chunk_for(model, chunk_log_weights) is None


@pytest.mark.parametrize("objective", ["elbo", "iwae", "elbo-k"])
def test_a_subclass_of_hvae_takes_no_fused_step(objective):
    model, built = small_model("hvae", objective={"name": objective})
    assert fused_step_unsupported(model, built) is None
    model.__class__ = PlainHierarchy
    assert "model PlainHierarchy is not a built-in" in fused_step_unsupported(model, built)


@pytest.mark.parametrize("name", ["encode", "decode", "forward", "log_weights"])
def test_a_pass_replaced_on_a_built_in_instance_is_refused(name):
    model, objective = small_model("vae")
    setattr(model, name, getattr(model, name))
    assert f"its own {name} set on the instance" in family_unsupported(model, (VAE,))
    assert fused_step_unsupported(model, objective) is not None and fused_chunk_unsupported(model) is not None


def test_a_registered_subclass_trains_through_autograd_with_its_override(tmp_path, models_registry):
    models_registry.register("test-sharp-decode")(SharpDecode)
    models_registry.register("test-plain-sub")(PlainSub)
    options = {"data": "digits", "binarize": "dynamic", "encoder": [16], "latent_dim": 2, "epochs": 1, "progress": "quiet"}
    for name in ("vae", "test-plain-sub", "test-sharp-decode"):
        run = vaekit.train(model=name, out=tmp_path / name, **options)
        record = json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])
        assert record["training_step"] == ("fused" if name == "vae" else "autograd"), name
        report = vaekit.evaluate(run, split="test", k=2, probe=False)
        assert report["nll_path"] == ("fused" if name == "vae" else "generic"), name
