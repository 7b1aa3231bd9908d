"""Priors p(z)."""

from __future__ import annotations

import torch
from torch import nn

from vaekit.distributions.posterior import LOG_2PI, kl_standard_normal


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I) over ``latent_dim`` dimensions."""

    name = "normal"
    has_analytic_kl = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) summed over the latent dimension, in nats; shape ``z.shape[:-1]``."""
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)

    def sample(self, n: int, device: torch.device | str = "cpu", temperature: float = 1.0) -> torch.Tensor:
        """Draw ``[n, latent_dim]`` latent codes; ``temperature`` scales the standard deviation."""
        return temperature * torch.randn(n, self.latent_dim, device=device)

    def kl_per_dim(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z|x) || p(z)) per latent dimension, in nats, ``[B, L]``."""
        return kl_standard_normal(mu, logvar)


PRIORS: dict[str, type[nn.Module]] = {"normal": StandardNormalPrior}
