"""Continuous Bernoulli p(x|z) (Loaiza-Ganem & Cunningham 2019): a normalised density on [0, 1].

The Bernoulli "likelihood" of grey levels lacks the normalising constant
C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda); adding it makes the score a true density.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood

#: below this |logit|/2 the closed forms lose precision (0/0 at lambda = 0.5): use Taylor series
_TAYLOR_BELOW = 1e-2


def log_normalizer(logits: torch.Tensor) -> torch.Tensor:
    """Return log C(lambda) for lambda = sigmoid(logits), elementwise, in nats.

    With u = logits / 2, C = 2 u / tanh(u); near u = 0 (lambda = 0.5) log(u / tanh u) is
    replaced by its series u^2/3 - 7 u^4 / 90, exact to float precision there.
    """
    u = 0.5 * logits
    small = u.abs() < _TAYLOR_BELOW
    # Keep the unused branch finite so its gradient is not NaN.
    safe = torch.where(small, torch.ones_like(u), u)
    closed = torch.log(safe.abs()) - torch.log(torch.tanh(safe).abs())
    u2 = u * u
    series = u2 / 3.0 - 7.0 * u2 * u2 / 90.0
    return math.log(2.0) + torch.where(small, series, closed)


@register_likelihood("continuous-bernoulli")
class ContinuousBernoulliLikelihood(Likelihood):
    """Continuous Bernoulli with logits: exact for data with values in [0, 1] (and binary data)."""

    exact_for = frozenset({"unit", "binary"})

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.log_prob_terms(x, params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        cross_entropy = F.binary_cross_entropy_with_logits(params, x.expand_as(params), reduction="none")
        return log_normalizer(params) - cross_entropy

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        # E[x] = 1 / (1 - exp(-eta)) - 1 / eta; near eta = 0 its series 1/2 + eta/12 - eta^3/720.
        small = params.abs() < 2 * _TAYLOR_BELOW
        safe = torch.where(small, torch.ones_like(params), params)
        closed = 1.0 / (-torch.expm1(-safe)) - 1.0 / safe
        series = 0.5 + params / 12.0 - params.pow(3) / 720.0
        return torch.where(small, series, closed).clamp(0.0, 1.0)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        return torch.distributions.ContinuousBernoulli(logits=params).sample()
