"""VAE variants composed from nets, likelihoods and priors, and one registry by name."""

from vaekit.models.registry import MODELS, available_models, create, register
from vaekit.models.vae import VAE, VAEOutput

__all__ = ["MODELS", "VAE", "VAEOutput", "available_models", "create", "register"]
