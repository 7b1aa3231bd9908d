"""The VAE of the founding diagram, composed of parts: encoder -> (mu, sigma) -> sample ->
decoder -> p(x|z), with a prior p(z). Every family in ``models/`` is this class with other parts
or another objective; none copies the reparameterisation or the reconstruction code."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vaekit.distributions import Likelihood, StandardNormalPrior, reparameterize
from vaekit.models.build import DataFacts, default_likelihood
from vaekit.models.registry import register

__all__ = ["VAE", "VAEOutput", "default_likelihood"]


@dataclass
class VAEOutput:
    """One pass of the model over a batch ``x`` of shape ``[B, D]``.

    ``recon_log_prob`` and ``kl`` are nats per example, ``[B]``; ``kl_per_dim`` is ``[B, L]``.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    params: torch.Tensor
    recon_log_prob: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor


@register("vae")
class VAE(nn.Module):
    """Gaussian-posterior VAE: an encoder giving ``(mu, logvar)``, a decoder giving likelihood
    parameters, a likelihood and a prior (standard normal unless given). Works on flattened
    inputs ``[B, D]``. Trained with the objective named by ``objective_name``.
    """

    #: name in ``vaekit.objectives.OBJECTIVES`` of the training objective
    objective_name = "elbo"
    #: name in ``vaekit.distributions.PRIORS`` of the prior
    prior_name = "normal"
    #: conditional models take labels ``y`` in ``encode``/``decode``/``forward``
    conditional = False
    #: deterministic models (the plain autoencoder) set this False: no ELBO, no NLL
    variational = True

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        prior: nn.Module | None = None,
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        #: width of the condition vector the nets take (0: unconditional; see ``condition_dim``)
        self.cond_dim = cond_dim
        self.input_dim = input_dim
        self.latent_dim = latent_dim
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior if prior is not None else StandardNormalPrior(latent_dim)

    @classmethod
    def condition_dim(cls, facts: DataFacts) -> int:
        """Width of the condition vector the nets take (0: unconditional)."""
        return 0

    def condition(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """Return the condition vector for labels ``y`` (None for unconditional models)."""
        if y is not None:
            raise ValueError(f"{type(self).__name__} is not conditional: do not pass labels y")
        return None

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior's ``(mu, logvar)``, each ``[B, L]``."""
        return self.encoder(x, self.condition(y))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return the likelihood parameters for latent codes ``z`` (``[..., L]`` -> ``[..., D*p]``)."""
        return self.decoder(z, self.condition(y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        cond = self.condition(y)
        mu, logvar = self.encoder(x, cond)
        z = reparameterize(mu, logvar)
        params = self.decoder(z, cond)
        kl, kl_per_dim = self.prior.kl(mu, logvar, z)
        return VAEOutput(
            mu=mu,
            logvar=logvar,
            z=z,
            params=params,
            recon_log_prob=self.likelihood.log_prob(x, params),
            kl=kl,
            kl_per_dim=kl_per_dim,
        )

    @torch.no_grad()
    def sample(
        self, n: int, temperature: float = 1.0, mean: bool = True, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode ``n`` prior draws; return the likelihood mean (or a draw), ``[n, D]``."""
        device = next(self.parameters()).device
        params = self.decode(self.prior.sample(n, device=device, temperature=temperature), y)
        return self.likelihood.mean(params) if mean else self.likelihood.sample(params)
