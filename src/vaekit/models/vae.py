"""The VAE of the founding diagram: encoder -> (mu, sigma) -> sample -> decoder -> p(x|z)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vaekit.config import RunConfig
from vaekit.distributions import (
    Likelihood,
    StandardNormalPrior,
    create_likelihood,
    reparameterize,
)
from vaekit.errors import ConfigError
from vaekit.models.registry import register
from vaekit.nets import GaussianEncoder, MLPDecoder


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


def default_likelihood(value_range: str | None) -> str:
    """Return the likelihood name that fits data with this value range."""
    return "gaussian" if value_range == "real" else "bernoulli"


@register("vae")
class VAE(nn.Module):
    """Gaussian-posterior VAE with an MLP encoder/decoder, a standard normal prior and a
    likelihood from the registry. Works on flattened inputs ``[B, D]``."""

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        encoder_hidden: list[int],
        decoder_hidden: list[int],
        likelihood: Likelihood,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.encoder = GaussianEncoder(input_dim, encoder_hidden, latent_dim, activation)
        self.decoder = MLPDecoder(latent_dim, decoder_hidden, input_dim * likelihood.params_per_dim, activation)
        self.prior = StandardNormalPrior(latent_dim)

    @classmethod
    def from_config(cls, config: RunConfig) -> VAE:
        """Build the model described by ``config`` (which must be bound to data)."""
        m = config.model
        name = m.likelihood or default_likelihood(config.value_range)
        options = {"sigma": m.sigma} if name == "gaussian" else {}
        if m.sigma is not None and name != "gaussian":
            raise ConfigError(f"--sigma applies to the gaussian likelihood only, not {name!r}")
        try:
            likelihood = create_likelihood(name, config.input_dim, **options)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(config.input_dim, m.latent_dim, list(m.encoder), m.decoder_hidden(), likelihood, m.activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior's ``(mu, logvar)``, each ``[B, L]``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Return the likelihood parameters for latent codes ``z`` (``[..., L]`` -> ``[..., D*p]``)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        params = self.decode(z)
        kl_per_dim = self.prior.kl_per_dim(mu, logvar)
        return VAEOutput(
            mu=mu,
            logvar=logvar,
            z=z,
            params=params,
            recon_log_prob=self.likelihood.log_prob(x, params),
            kl=kl_per_dim.sum(-1),
            kl_per_dim=kl_per_dim,
        )

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mean: bool = True) -> torch.Tensor:
        """Decode ``n`` prior draws; return the likelihood mean (or a draw), ``[n, D]``."""
        device = next(self.parameters()).device
        params = self.decode(self.prior.sample(n, device=device, temperature=temperature))
        return self.likelihood.mean(params) if mean else self.likelihood.sample(params)
