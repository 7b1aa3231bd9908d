"""IWAE (Burda et al. 2015): the VAE trained on the K-sample importance-weighted bound."""

from vaekit.models.registry import register
from vaekit.models.vae import VAE


@register("iwae")
class IWAE(VAE):
    """The VAE trained with the ``iwae`` objective (option ``iwae_k``: samples per example)."""

    objective_name = "iwae"
