"""The VAE of the founding diagram, composed of parts: encoder -> (mu, sigma) -> sample ->
decoder -> p(x|z), with a prior p(z). Every family in ``models/`` is this class with other parts
or another objective; none copies the reparameterisation or the reconstruction code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vaekit.distributions import Likelihood, StandardNormalPrior, reparameterize
from vaekit.models.build import DataFacts, default_likelihood
from vaekit.models.checks import check_per_example
from vaekit.models.latents import (
    LogWeights,
    draw_layer,
    encoder_features,
    make_flow,
    noise_source,
    prior_log_prob_per_dim,
)
from vaekit.models.registry import register
from vaekit.runtime.batch_shard import standard_normal

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

    Every pass goes through :meth:`encode` and :meth:`decode`: ``forward`` (so every
    objective), :meth:`log_weights` (the ``iwae`` objective, the NLL and scores of a model with
    ``own_log_weights``), the NLL's generic chunk, sampling and reconstructions. A family that
    overrides either is therefore trained, evaluated and sampled with its override (and trained
    through autograd: the fast paths take the built-in classes alone, see :mod:`vaekit.fast`).
    With a flow, training draws z from the encoder's features (the flow's context), which an
    override of ``encode`` could not give: such a family is refused when it is built.

    Options: ``flow_steps`` (0) IAF steps on the posterior (Kingma et al. 2016,
    :mod:`vaekit.nets.iaf`), with the encoder's last hidden layer as their context and
    ``flow_hidden`` the autoregressive nets' hidden widths (default one layer of max(2 L, 16)).
    With a flow, q(z|x) is the flow's image of N(mu, sigma^2): ``forward``'s KL is the
    one-sample log q(z|x) - log p(z) (the log-determinant included), the importance weights
    come from :meth:`log_weights` (``own_log_weights``), and ``encode`` gives the flow's image
    of the mean (see :meth:`vaekit.nets.iaf.IAF.code`).
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
        flow_steps: int = 0,
        flow_hidden: Sequence[int] | None = None,
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
        #: the IAF on q(z|x) (``flow_steps`` > 0), else None: the plain Gaussian posterior
        self.flow = self._posterior_flow(flow_steps, flow_hidden) if flow_steps or flow_hidden is not None else None
        bypassed = self._bypassed_override()
        if bypassed is not None:
            raise ValueError(bypassed)

    def _bypassed_override(self) -> str | None:
        """Return why this family's override of ``encode`` would be left out of training (a
        ValueError, shown as a ``ConfigError``, when the model is built), or None: with a flow,
        training draws z from the encoder's features, not from ``encode``."""
        if self.flow is None or type(self).encode is VAE.encode:
            return None
        return (
            f"model {type(self).__name__} overrides encode, but with model.flow_steps training draws z from the "
            "encoder's features through the IAF, which would leave the override out: leave model.flow_steps out, "
            "or override the net (a new --net) instead of encode"
        )

    def _posterior_flow(self, steps: int, hidden: Sequence[int] | None) -> nn.Module | None:
        """Return the IAF of the posterior of z (a ValueError, shown as a ``ConfigError``, where
        the model has no Gaussian posterior for it to transform)."""
        if steps and not self.variational:
            raise ValueError(
                "flow_steps needs a Gaussian posterior to transform, but this model is deterministic "
                "(its code is a point mass): leave model.flow_steps out, or use --model vae"
            )
        context = encoder_features(self.encoder, "flow_steps") if steps else 0
        return make_flow(self.latent_dim, context, steps, hidden)

    @property
    def own_log_weights(self) -> bool:
        """True when log p(x, z) - log q(z|x) needs more than ``encode``, ``decode`` and the
        prior (here: an IAF posterior), so that evaluation, the ``iwae`` objective and scores
        call :meth:`log_weights` and the fused paths refuse the model."""
        return self.flow is not None

    @property
    def noise_widths(self) -> tuple[int, ...]:
        """Widths of the standard normal draws one posterior sample takes, in the order
        :meth:`log_weights` draws them (evaluation skips other processes' draws with it)."""
        return (self.latent_dim,)

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
        """Return the posterior's ``(mu, logvar)``, each ``[B, L]`` (with a flow: the flow's
        image of the base mean and a diagonal Gaussian summary of its spread, see
        :meth:`vaekit.nets.iaf.IAF.code`)."""
        if self.flow is not None:
            h = self.encoder.features(x, self.condition(y))
            return self.flow.code(self.encoder.mu(h), self.encoder.logvar(h), h)
        return self.encoder(x, self.condition(y))

    def sample_posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return one draw from q(z|x) per example, ``[B, L]``: through the flow where there is
        one (its Gaussian summary from :meth:`encode` is not q(z|x)), else from ``encode``'s
        Gaussian (a deterministic model's code is its own draw)."""
        if getattr(self, "flow", None) is not None:
            h = self.encoder.features(x, self.condition(y))
            mu, logvar = self.encoder.mu(h), self.encoder.logvar(h)
            z, _ = draw_layer(mu, logvar, standard_normal(mu.shape, mu), self.flow, h)
            return z
        mu, logvar = self.encode(x, y)
        return reparameterize(mu, logvar)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return the likelihood parameters for latent codes ``z`` (``[..., L]`` -> ``[..., D*p]``)."""
        return self.decoder(z, self.condition(y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        if self.flow is not None:
            return self._forward_with_flow(x, y)
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar)
        params = self.decode(z, y)
        kl, kl_per_dim = self.prior.kl(mu, logvar, z)
        return VAEOutput(
            mu=mu,
            logvar=logvar,
            z=z,
            params=params,
            recon_log_prob=check_per_example(self.likelihood.log_prob(x, params), x.shape[:1], self),
            kl=kl,
            kl_per_dim=kl_per_dim,
        )

    def _forward_with_flow(self, x: torch.Tensor, y: torch.Tensor | None) -> VAEOutput:
        """``forward`` through the IAF: one draw z = f(z0), its reconstruction term and the
        one-sample KL log q(z|x) - log p(z) (no closed form through a flow)."""
        cond = self.condition(y)
        h = self.encoder.features(x, cond)
        mu, logvar = self.encoder.mu(h), self.encoder.logvar(h)
        z, log_q = draw_layer(mu, logvar, standard_normal(mu.shape, mu), self.flow, h)
        params = self.decode(z, y)
        kl = log_q.sum(-1) - self.prior.log_prob(z)
        with torch.no_grad():  # a summary for reports and plots, not part of the loss
            code, code_logvar = self.flow.code(mu, logvar, h)
        return VAEOutput(
            mu=code,
            logvar=code_logvar,
            z=z,
            params=params,
            recon_log_prob=check_per_example(self.likelihood.log_prob(x, params), x.shape[:1], self),
            kl=kl,
            kl_per_dim=log_q - prior_log_prob_per_dim(self.prior, z),
        )

    def log_weights(
        self, x: torch.Tensor, k: int, y: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> LogWeights:
        """Return the terms of ``k`` importance weights per example of ``x`` ``[B, D]``, each
        ``[k, B]`` nats, the posterior drawn with ``generator`` (None: the global RNG, as in
        training). For a model without a flow these are the weights of the generic chunk."""
        if self.flow is not None:
            h = self.encoder.features(x, self.condition(y))
            mu, logvar = self.encoder.mu(h), self.encoder.logvar(h)
        else:
            h, (mu, logvar) = None, self.encode(x, y)
        eps = noise_source(generator)((k, *mu.shape), mu)
        z, log_q = draw_layer(mu, logvar, eps, self.flow, h)
        batch, latent = mu.shape
        # z flattens sample-major ([k0: b0..bB-1, k1: ...]), so the labels are tiled, not interleaved.
        flat_y = None if y is None else y.repeat(k, *([1] * (y.ndim - 1)))
        params = self.decode(z.reshape(k * batch, latent), flat_y).reshape(k, batch, -1)
        log_prior = self.prior.log_prob(z)
        log_posterior = log_q.sum(-1)
        log_likelihood = check_per_example(self.likelihood.log_prob(x, params), (k, batch), self)
        return LogWeights(
            log_likelihood, log_prior, log_posterior, (log_posterior - log_prior).unsqueeze(-1), params,
        )

    @torch.no_grad()
    def sample(
        self, n: int, temperature: float = 1.0, mean: bool = True, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode ``n`` prior draws; return the likelihood mean (or a draw), ``[n, D]``."""
        device = next(self.parameters()).device
        params = self.decode(self.prior.sample(n, device=device, temperature=temperature), y)
        return self.likelihood.mean(params) if mean else self.likelihood.sample(params)
