"""Observation models p(x|z): the decoder outputs their parameters, these score data.

Every ``log_prob`` returns nats per example (summed over the D data dimensions), shape ``[...]``
for inputs ``[..., D]``. Each family records which kinds of data it is a true likelihood for, so
that evaluation never calls a Bernoulli score of grey levels an NLL.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.distributions.posterior import LOG_2PI


class Likelihood(nn.Module):
    """Base class. ``params_per_dim`` decoder outputs are produced for each data dimension."""

    name: str = ""
    params_per_dim: int = 1
    #: value ranges ("binary", "unit", "real") on which ``log_prob`` is a normalised density/mass
    exact_for: frozenset[str] = frozenset()

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return E[x|z], ``[..., D]``, in data units."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a draw x ~ p(x|z), ``[..., D]``."""
        raise NotImplementedError


class BernoulliLikelihood(Likelihood):
    """Bernoulli with logits. Exact for binary data; on grey levels in [0, 1] it is the common
    cross-entropy training loss but not a normalised likelihood."""

    name = "bernoulli"
    exact_for = frozenset({"binary"})

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        # x log p + (1-x) log(1-p) = x * logit - softplus(logit), stable for any logit. Summing the
        # two terms separately (the first as a broadcast dot product) reads the [..., D] logits
        # twice instead of materialising the elementwise BCE: ~2x faster for K-sample NLLs.
        return torch.einsum("...d,...d->...", params, x.to(params.dtype)) - F.softplus(params).sum(-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(params))


class GaussianLikelihood(Likelihood):
    """Diagonal Gaussian with the decoder giving the mean. The standard deviation is either
    fixed (``sigma``) or learned, one per data dimension, as a free parameter (``sigma=None``)."""

    name = "gaussian"
    exact_for = frozenset({"real"})

    def __init__(self, dim: int, sigma: float | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.learn_sigma = sigma is None
        init = torch.zeros(dim) if sigma is None else torch.full((dim,), math.log(sigma))
        if self.learn_sigma:
            self.log_sigma = nn.Parameter(init)
        else:
            self.register_buffer("log_sigma", init)

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        log_sigma = self.log_sigma
        return -0.5 * (LOG_2PI + 2.0 * log_sigma + (x - params).pow(2) * torch.exp(-2.0 * log_sigma)).sum(-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return params

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        return params + torch.exp(self.log_sigma) * torch.randn_like(params)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    BernoulliLikelihood.name: BernoulliLikelihood,
    GaussianLikelihood.name: GaussianLikelihood,
}


def create_likelihood(name: str, dim: int, **options: object) -> Likelihood:
    """Build the likelihood registered as ``name`` for ``dim`` data dimensions."""
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ValueError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}") from None
    return cls(dim, **options)
