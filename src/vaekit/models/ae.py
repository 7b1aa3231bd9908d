"""The plain (deterministic) autoencoder, for the VAE-vs-AE comparison: z = encoder mean."""

from __future__ import annotations

import torch

from vaekit.models.checks import check_per_example
from vaekit.models.registry import register
from vaekit.models.vae import VAE, VAEOutput


@register("ae")
class Autoencoder(VAE):
    """Deterministic autoencoder trained on reconstruction alone (objective ``reconstruction``).

    It has no ELBO and no NLL (``variational = False``). ``encode`` returns the code as ``mu``
    with ``logvar = -inf`` (a point mass, so a "posterior draw" is the code itself); the
    encoder's log-variance head exists but is unused. ``forward`` reports ``kl`` as 0: the
    objective has no KL term. Sampling from the N(0, I) prior works but is not a model of the
    data: that is the point of the comparison. ``forward`` codes through :meth:`encode` and
    reconstructs through :meth:`decode`, so a family's overrides of either are trained with.
    """

    objective_name = "reconstruction"
    variational = False

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(code, -inf)``, each ``[B, L]``."""
        mu, _ = self.encoder(x, self.condition(y))
        return mu, torch.full_like(mu, float("-inf"))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        z, _ = self.encode(x, y)
        params = self.decode(z, y)
        zeros = torch.zeros_like(z)
        return VAEOutput(
            mu=z,
            logvar=torch.full_like(z, float("-inf")),
            z=z,
            params=params,
            recon_log_prob=check_per_example(self.likelihood.log_prob(x, params), x.shape[:1], self),
            kl=zeros.sum(-1),
            kl_per_dim=zeros,
        )
