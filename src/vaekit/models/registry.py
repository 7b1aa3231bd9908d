"""One registry mapping model family names to classes: ``model: {name: vae}``, ``--model vae``."""

from __future__ import annotations

from torch import nn

from vaekit.runtime.registry import Registry

#: every model family by name; the library supplies the sizes and the built parts, and
#: ``cond_dim`` to conditional families; other keyword arguments are the family's own options
MODELS: Registry[type[nn.Module]] = Registry(
    "model",
    supplied=("input_dim", "latent_dim", "encoder", "decoder", "likelihood", "prior", "cond_dim"),
    required=("input_dim", "latent_dim", "encoder", "decoder", "likelihood", "prior"),
    name_attribute="registry_name",
    base="vaekit.models:VAE",
    decorator="register",
)
register = MODELS.register


def available_models() -> list[str]:
    """Return the registered model names, sorted."""
    return MODELS.names()
