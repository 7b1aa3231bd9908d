"""What models with more than one Gaussian draw share: a posterior layer with an optional IAF
flow, where its noise comes from, and the importance weights they compute themselves.

A model whose log p(x, z) - log q(z|x) needs more than ``encode``/``decode``/``prior`` (an IAF
posterior, a hierarchy of latent layers) says so with ``own_log_weights = True`` and computes
its weights in ``log_weights(x, k, ..., generator=...)``; evaluation, the ``iwae`` objective and
anomaly scores call it instead of their generic Gaussian chunk, and the fused paths refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vaekit.distributions.posterior import LOG_2PI
from vaekit.nets.iaf import IAF
from vaekit.nets.layers import ACTIVATIONS
from vaekit.runtime.batch_shard import standard_normal

#: ``draw(shape, like)``: standard normal noise of ``shape`` with ``like``'s dtype and device
Noise = Callable[[tuple[int, ...], torch.Tensor], torch.Tensor]


@dataclass
class LogWeights:
    """The terms of K importance weights per example, each ``[K, B]`` in nats: log p(x|z_1),
    log p(z) (all layers: log p(z_L) + sum log p(z_l|z_l+1)) and log q(z|x) (all layers, flows'
    log-determinants included); ``kl_layers`` ``[K, B, n_layers]`` is log q - log p of each
    stochastic layer, bottom (z_1) first, at the draws; ``params`` ``[K, B, P]`` are the
    likelihood's parameters at the draws of z_1 (for per-feature costs)."""

    log_likelihood: torch.Tensor
    log_prior: torch.Tensor
    log_posterior: torch.Tensor
    kl_layers: torch.Tensor
    params: torch.Tensor | None = None

    @property
    def log_weights(self) -> torch.Tensor:
        """log p(x, z_k) - log q(z_k|x), ``[K, B]`` nats."""
        return self.log_likelihood + self.log_prior - self.log_posterior


def noise_source(generator: torch.Generator | None) -> Noise:
    """Return the draw function: from ``generator`` (evaluation: seeded, the global RNG left
    alone), or with ``generator=None`` from the global RNG through
    :func:`~vaekit.runtime.batch_shard.standard_normal` (training: the batch's noise whatever
    the number of processes)."""
    if generator is None:
        return standard_normal

    def draw(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=generator, dtype=like.dtype, device=like.device)

    return draw


def draw_layer(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor, flow: IAF | None, context: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``z = f(mu + sigma * eps)`` (``f`` the flow, or the identity) and return ``z`` and
    log q(z) per dimension, ``[..., L]`` nats: the base Gaussian's density at the base draw less
    the flow's log-determinant (whose split over dimensions is a bookkeeping choice; the sum is
    exact)."""
    z = mu + torch.exp(0.5 * logvar) * eps
    # (z - mu)^2 / sigma^2 = eps^2: no division by a small sigma
    log_q = -0.5 * (LOG_2PI + logvar + eps.pow(2))
    if flow is None:
        return z, log_q
    z, log_det = flow(z, context)
    return z, log_q - log_det


def layer_code(
    mu: torch.Tensor, logvar: torch.Tensor, flow: IAF | None, context: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a posterior layer's code and log-variance: ``(mu, logvar)`` of its Gaussian, or
    through a flow its :meth:`~vaekit.nets.iaf.IAF.code`."""
    return (mu, logvar) if flow is None else flow.code(mu, logvar, context)


def prior_log_prob_per_dim(prior: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Return log p(z) per dimension ``[..., L]`` (nats): the prior's marginals where it has them
    (they add up to log p(z) only for a factorised prior), else log p(z) spread evenly."""
    per_dim = getattr(prior, "marginal_log_prob_per_dim", None)
    if per_dim is not None:
        return per_dim(z)
    return (prior.log_prob(z) / z.shape[-1]).unsqueeze(-1).expand_as(z)


def checked_widths(value: Sequence[int], what: str) -> list[int]:
    """Return ``value`` as a list of positive widths; a zero or negative one raises ValueError
    naming ``what``."""
    widths = [int(w) for w in value]
    bad = [w for w in widths if w < 1]
    if bad:
        raise ValueError(f"{what} must be positive widths, got {widths}: every layer needs at least one unit")
    return widths


def make_flow(latent_dim: int, context_dim: int, steps: int, hidden: Sequence[int] | None) -> IAF | None:
    """Return the IAF of ``steps`` steps over ``latent_dim`` dimensions (None for 0 steps), with
    autoregressive hidden widths ``hidden`` (default: one layer of ``max(2 L, 16)`` units)."""
    if isinstance(steps, bool) or steps < 0:
        raise ValueError(f"flow_steps must be a whole number >= 0, got {steps!r}")
    if not steps:
        if hidden is not None:
            raise ValueError("flow_hidden needs flow_steps >= 1 (the flow it sizes)")
        return None
    widths = [max(2 * latent_dim, 16)] if hidden is None else checked_widths(hidden, "flow_hidden")
    if not widths:
        raise ValueError(f"flow_hidden needs at least one hidden layer, e.g. [{max(2 * latent_dim, 16)}]")
    return IAF(latent_dim, context_dim, steps, widths)


def activation_of(module: nn.Module, default: str = "relu") -> str:
    """Return the name of the first activation among ``module``'s layers (the net's
    ``activation`` option), or ``default`` when it has none."""
    for layer in module.modules():
        for name, cls in ACTIVATIONS.items():
            if type(layer) is cls:
                return name
    return default


def encoder_features(encoder: nn.Module, what: str) -> int:
    """Return the width of ``encoder.features(x)`` (the context of a flow, the start of a
    ladder's upward path); an encoder without ``features`` raises ValueError naming ``what``."""
    if not (callable(getattr(encoder, "features", None)) and hasattr(encoder, "mu") and hasattr(encoder, "logvar")):
        raise ValueError(
            f"{what} needs an encoder with features(x) and mu/logvar heads (the mlp and conv nets have them); "
            f"{type(encoder).__name__} has not"
        )
    return int(encoder.feature_dim)
