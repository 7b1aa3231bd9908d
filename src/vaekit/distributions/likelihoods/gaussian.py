"""Diagonal Gaussian p(x|z) with a fixed, per-dimension or per-example standard deviation."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood
from vaekit.distributions.posterior import LOG_2PI

SIGMA_TYPES = ("per-dim", "per-example")
#: per-example log sigma is clamped to this range so a pixel that is constant in the data
#: cannot drive the density to infinity; the clamped value still defines a normalised density
PER_EXAMPLE_LOG_SIGMA_RANGE = (-7.0, 7.0)


@register_likelihood("gaussian")
class GaussianLikelihood(Likelihood):
    """Diagonal Gaussian with the decoder giving the mean. The standard deviation is

    - fixed, when ``sigma`` is given;
    - learned per data dimension as a free parameter (``sigma_type="per-dim"``, the default);
    - output by the decoder for every example and dimension (``sigma_type="per-example"``:
      two decoder outputs per dimension, the mean then log sigma).
    """

    exact_for = frozenset({"real"})

    def __init__(self, dim: int, sigma: float | None = None, sigma_type: str = "per-dim") -> None:
        super().__init__()
        self.dim = dim
        if sigma_type not in SIGMA_TYPES:
            raise ValueError(f"sigma_type must be one of {SIGMA_TYPES}, got {sigma_type!r}")
        if sigma is not None and not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        if sigma is not None and sigma_type == "per-example":
            raise ValueError("a fixed sigma and sigma_type 'per-example' exclude each other; drop one")
        self.sigma_type = "fixed" if sigma is not None else sigma_type
        self.params_per_dim = 2 if self.sigma_type == "per-example" else 1
        self.learn_sigma = sigma is None
        if self.sigma_type == "per-dim":
            self.log_sigma = nn.Parameter(torch.zeros(dim))
        elif self.sigma_type == "fixed":
            self.register_buffer("log_sigma", torch.full((dim,), math.log(sigma)))

    def _mean_and_log_sigma(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sigma_type == "per-example":
            mean, log_sigma = self.split_params(params)
            return mean, log_sigma.clamp(*PER_EXAMPLE_LOG_SIGMA_RANGE)
        return params, self.log_sigma

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.log_prob_terms(x, params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        mean, log_sigma = self._mean_and_log_sigma(params)
        return -0.5 * (LOG_2PI + 2.0 * log_sigma + (x - mean).pow(2) * torch.exp(-2.0 * log_sigma))

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return self._mean_and_log_sigma(params)[0]

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        mean, log_sigma = self._mean_and_log_sigma(params)
        return mean + torch.exp(log_sigma) * torch.randn_like(mean)
