"""The diagonal Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))) and its KL to N(0, I)."""

from __future__ import annotations

import math

import torch

from vaekit.runtime.batch_shard import standard_normal

LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
    """Draw z = mu + sigma * eps with eps ~ N(0, I) (the founding diagram's "sample" box).

    Returns ``[B, L]``, or ``[n_samples, B, L]`` when ``n_samples`` is given. Gradients flow
    to ``mu`` and ``logvar`` because the noise enters additively.
    """
    std = torch.exp(0.5 * logvar)
    shape = mu.shape if n_samples is None else (n_samples, *mu.shape)
    eps = standard_normal(shape, mu)  # this process's rows of the batch's draw (see runtime.batch_shard)
    return mu + std * eps


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per latent dimension, in nats, shape of ``mu``.

    Closed form: 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension, in nats."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def gaussian_log_prob_per_dim(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_d; mu_d, exp(logvar_d)) of each dimension, in nats, broadcast shape of the inputs."""
    # (z - mu) / sigma, squared: exp(-logvar) alone overflows float32 once logvar < -88, which a
    # layer of a hierarchy whose prior and posterior both narrow reaches while the ratio stays O(1).
    return -0.5 * (LOG_2PI + logvar + ((z - mu) * torch.exp(-0.5 * logvar)).pow(2))


def kl_gaussians(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p))) per dimension, in nats (closed form:
    0.5 * (logvar_p - logvar_q + (sigma_q^2 + (mu_q - mu_p)^2) / sigma_p^2 - 1))."""
    # The variance ratio as one exp of a difference, the mean term scaled by 1 / sigma_p before
    # squaring: finite while the ratios are, however narrow both Gaussians get.
    return 0.5 * (
        logvar_p - logvar_q + torch.exp(logvar_q - logvar_p) + ((mu_q - mu_p) * torch.exp(-0.5 * logvar_p)).pow(2) - 1.0
    )


def precision_weighted(
    mu_a: torch.Tensor, logvar_a: torch.Tensor, mu_b: torch.Tensor, logvar_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(mu, logvar)`` of the normalised product of two diagonal Gaussians (the ladder
    VAE's combination of a bottom-up and a top-down estimate, Sonderby et al. 2016, eq. 19):
    precisions add, and the mean is the precision-weighted mean."""
    # weight of a = prec_a / (prec_a + prec_b) = sigmoid(logvar_b - logvar_a): no exp to overflow
    weight = torch.sigmoid(logvar_b - logvar_a)
    logvar = -torch.logaddexp(-logvar_a, -logvar_b)
    return weight * mu_a + (1 - weight) * mu_b, logvar
