"""The importance-weighted bound (Burda et al. 2015) as a training objective."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.distributions import gaussian_log_prob, reparameterize
from vaekit.objectives.base import StepLoss, check_per_example, model_args, register_objective


@dataclass
class ImportanceWeights:
    """``log_weights`` ``[K, B]``: log p(x, z_k) - log q(z_k|x) for K posterior draws, in nats;
    ``log_likelihood`` and ``log_prior``/``log_posterior`` are its terms, each ``[K, B]``."""

    log_weights: torch.Tensor
    log_likelihood: torch.Tensor
    log_prior: torch.Tensor
    log_posterior: torch.Tensor

    def bound(self) -> torch.Tensor:
        """Return the K-sample bound log (1/K) sum_k w_k per example, ``[B]`` nats."""
        return torch.logsumexp(self.log_weights, dim=0) - math.log(len(self.log_weights))


@dataclass
class LayeredImportanceWeights(ImportanceWeights):
    """:class:`ImportanceWeights` of a model with stochastic layers: ``kl_layers`` ``[K, B,
    n_layers]`` is log q - log p of each layer at the draws (nats), bottom first."""

    kl_layers: torch.Tensor | None = None


def importance_weights(model: Any, x: torch.Tensor, k: int, y: torch.Tensor | None = None) -> ImportanceWeights:
    """Draw ``k`` reparameterised samples from q(z|x) per example and return their weights. A
    model with ``own_log_weights`` (an IAF posterior, stochastic layers) computes them itself:
    every layer drawn through its hierarchy, log q with the flows' log-determinants."""
    args = model_args(model, y)
    if getattr(model, "own_log_weights", False):
        terms = model.log_weights(x, k, *args)
        check_per_example(terms.log_likelihood, (k, len(x)), model)
        return LayeredImportanceWeights(
            terms.log_weights, terms.log_likelihood, terms.log_prior, terms.log_posterior, terms.kl_layers
        )
    mu, logvar = model.encode(x, *args)
    z = reparameterize(mu, logvar, n_samples=k)  # [K, B, L]
    params = model.decode(z, *args)
    log_likelihood = check_per_example(model.likelihood.log_prob(x, params), (k, len(x)), model)
    log_prior = model.prior.log_prob(z)
    log_posterior = gaussian_log_prob(z, mu, logvar)
    return ImportanceWeights(log_likelihood + log_prior - log_posterior, log_likelihood, log_prior, log_posterior)


@register_objective("iwae")
class IWAEObjective:
    """Minimise minus the K-sample importance-weighted bound (``iwae_k`` = K; K = 1 is the ELBO
    with a Monte Carlo KL). The metrics log shows the first sample's terms."""

    requires_variational = True

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)
        if self.k < 1:
            raise ValueError(f"k (importance samples) must be >= 1, got {self.k}")

    def __call__(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0) -> StepLoss:
        weights = importance_weights(model, x, self.k, y)
        first_kl = weights.log_posterior[0] - weights.log_prior[0]
        layers = getattr(weights, "kl_layers", None)
        kl_layers = None if layers is None or layers.shape[-1] < 2 else layers[0]
        return StepLoss(-weights.bound().mean(), weights.log_likelihood[0], first_kl, kl_layers)


@register_objective("elbo-k")
class MultiSampleELBOObjective:
    """Minimise minus the ELBO estimated with ``k`` posterior draws per example: the mean of the
    k log weights, where the IWAE bound takes their log-mean-exp. Burda et al.'s (2015) "VAE, k"
    rows train on it; it lowers the estimate's variance without tightening the bound. The
    metrics log shows the reconstruction term and KL averaged over the draws."""

    requires_variational = True

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)
        if self.k < 1:
            raise ValueError(f"k (posterior draws) must be >= 1, got {self.k}")

    def __call__(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0) -> StepLoss:
        weights = importance_weights(model, x, self.k, y)
        layers = getattr(weights, "kl_layers", None)
        kl_layers = None if layers is None or layers.shape[-1] < 2 else layers.mean(0)
        kl = (weights.log_posterior - weights.log_prior).mean(0)
        return StepLoss(-weights.log_weights.mean(0).mean(), weights.log_likelihood.mean(0), kl, kl_layers)
