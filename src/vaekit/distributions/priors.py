"""Priors p(z), the interface every prior follows, and their registry by name.

A prior gives ``log_prob(z)`` (nats, summed over L, leading sample dimensions allowed),
``sample(n, device, temperature)`` and ``kl(mu, logvar, z)``: KL(q(z|x) || p(z)) per example
for the Gaussian posterior q = N(mu, exp(logvar)), analytic where the prior allows it, else a
one-sample Monte Carlo estimate at the posterior draw ``z``.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.distributions.posterior import LOG_2PI, kl_standard_normal
from vaekit.runtime.registry import Registry

#: every prior by name; the library supplies ``latent_dim`` and, to those that take them, the
#: data's ``input_dim`` and the model's ``encoder``
PRIORS: Registry[type[nn.Module]] = Registry(
    "prior", supplied=("latent_dim", "input_dim", "encoder"), required=("latent_dim",)
)
register_prior = PRIORS.register


@register_prior("normal")
class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I) over ``latent_dim`` dimensions."""

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

    def marginal_log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z_j; 0, 1) of each latent dimension, in nats, ``[..., L]`` (they add up to
        :meth:`log_prob`: the prior factorises)."""
        return -0.5 * (LOG_2PI + z.pow(2))

    def kl_per_dim(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z|x) || p(z)) per latent dimension, in nats, ``[B, L]``."""
        return kl_standard_normal(mu, logvar)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(kl [B], kl_per_dim [B, L])`` in nats, analytic (``z`` is not used)."""
        per_dim = kl_standard_normal(mu, logvar)
        return per_dim.sum(-1), per_dim
