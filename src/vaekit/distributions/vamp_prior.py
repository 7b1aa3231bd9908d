"""The VampPrior (Tomczak & Welling 2018): p(z) = (1/K) sum_k q(z | u_k), a mixture of the
encoder's posteriors at K learned pseudo-inputs u_k."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vaekit.distributions.posterior import gaussian_log_prob
from vaekit.distributions.priors import Prior, register_prior

Encoder = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@register_prior("vamp")
class VampPrior(Prior):
    """Mixture prior over the encoder's posteriors at ``pseudo_inputs`` learned inputs ``[K, D]``.

    The encoder is held by reference, not as a submodule: it belongs to the model, and its
    weights must be saved once, under the model's encoder. Its KL is :class:`Prior`'s one-sample
    Monte Carlo estimate, per dimension against the mixture's 1-D marginals.
    """

    has_analytic_kl = False

    def __init__(self, latent_dim: int, input_dim: int, encoder: Encoder, pseudo_inputs: int = 100) -> None:
        super().__init__(latent_dim)
        k = pseudo_inputs
        if k < 1:
            raise ValueError(f"pseudo_inputs must be >= 1, got {k}")
        self.num_pseudo_inputs = k
        # Data units: grey levels in [0, 1]; the inputs move wherever training takes them.
        self.pseudo_inputs = nn.Parameter(torch.rand(k, input_dim))
        object.__setattr__(self, "_encoder", encoder)

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mixture components' ``(mu, logvar)``, each ``[K, L]``."""
        return self._encoder(self.pseudo_inputs)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = log mean_k N(z; mu_k, sigma_k^2), in nats, shape ``z.shape[:-1]``
        (computed with logsumexp over the K components)."""
        mu, logvar = self.components()
        per_component = gaussian_log_prob(z.unsqueeze(-2), mu, logvar)  # [..., K]
        return torch.logsumexp(per_component, dim=-1) - math.log(self.num_pseudo_inputs)

    def marginal_log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        """log p_j(z_j) of each latent dimension's own marginal (a 1-D mixture), ``[..., L]``."""
        mu, logvar = self.components()
        zk = z.unsqueeze(-2)  # [..., 1, L]
        per_dim = -0.5 * (math.log(2 * math.pi) + logvar + (zk - mu).pow(2) * torch.exp(-logvar))
        return torch.logsumexp(per_dim, dim=-2) - math.log(self.num_pseudo_inputs)

    def sample(self, n: int, device: torch.device | str = "cpu", temperature: float = 1.0) -> torch.Tensor:
        """Draw ``[n, L]`` codes: a uniformly chosen component, its std scaled by ``temperature``."""
        mu, logvar = self.components()
        pick = torch.randint(self.num_pseudo_inputs, (n,), device=mu.device)
        std = torch.exp(0.5 * logvar[pick])
        return (mu[pick] + temperature * std * torch.randn_like(std)).to(device)
