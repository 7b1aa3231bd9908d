"""Discretised logistic p(x|z) (Kingma et al. 2016; mixture as in PixelCNN++, Salimans et al.
2017) for images stored with ``levels`` grey levels (256 for 8-bit images).

Data in [0, 1] sit on the grid k / (levels - 1). Each level owns the bin of half-width
h = 1 / (2 (levels - 1)) around it; the first and last bins extend to -inf and +inf, so the
probabilities of the ``levels`` values sum to exactly 1: a normalised likelihood of the
quantised data, reported in nats per example like every other likelihood.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood

#: log scales below this are clamped (as in PixelCNN++): narrower than any bin anyway
MIN_LOG_SCALE = -7.0


@register_likelihood("discretized-logistic")
class DiscretizedLogisticLikelihood(Likelihood):
    """Discretised logistic (``mixtures=1``: 2 decoder outputs per dimension, location then
    log scale) or a mixture of ``mixtures`` of them (3 * mixtures outputs: mixture logits,
    locations, log scales).

    Exact for "unit" (and "binary") data whose grey levels are the grid of ``levels`` values;
    the model passes the data's own number of levels (256 for MNIST, 17 for sklearn digits).
    """

    exact_for = frozenset({"unit", "binary"})

    def __init__(self, dim: int, levels: int = 256, mixtures: int = 1) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"discretized-logistic needs at least 2 grey levels, got {levels}")
        if mixtures < 1:
            raise ValueError(f"mixtures must be >= 1, got {mixtures}")
        self.dim = dim
        self.levels = levels
        self.mixtures = mixtures
        self.params_per_dim = 2 if mixtures == 1 else 3 * mixtures
        self.half_bin = 0.5 / (levels - 1)

    def _components(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (log mixture weights, locations, log scales), each ``[..., M, D]``."""
        if self.mixtures == 1:
            loc, log_scale = self.split_params(params)
            loc, log_scale = loc.unsqueeze(-2), log_scale.unsqueeze(-2)
            return torch.zeros_like(loc), loc, log_scale.clamp(min=MIN_LOG_SCALE)
        parts = params.unflatten(-1, (3, self.mixtures, self.dim))
        logits, loc, log_scale = parts.unbind(-3)
        return F.log_softmax(logits, dim=-2), loc, log_scale.clamp(min=MIN_LOG_SCALE)

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.log_prob_terms(x, params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        log_weight, loc, log_scale = self._components(params)
        x = x.unsqueeze(-2)  # broadcast over the mixture components
        h = self.half_bin
        inv_scale = torch.exp(-log_scale)
        centred = x - loc
        plus_in = inv_scale * (centred + h)
        min_in = inv_scale * (centred - h)
        log_cdf_plus = plus_in - F.softplus(plus_in)  # log sigmoid, for the first bin (-inf, h]
        log_survival_min = -F.softplus(min_in)  # log (1 - sigmoid), for the last bin [1 - h, inf)
        bin_mass = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
        # Where the bin mass underflows, use density at the centre times bin width instead.
        mid_in = inv_scale * centred
        log_density_mid = mid_in - log_scale - 2.0 * F.softplus(mid_in)
        log_mid = torch.where(
            bin_mass > 1e-5,
            torch.log(bin_mass.clamp(min=1e-12)),
            log_density_mid + math.log(2.0 * h),
        )
        log_bin = torch.where(x < h, log_cdf_plus, torch.where(x > 1.0 - h, log_survival_min, log_mid))
        return torch.logsumexp(log_weight + log_bin, dim=-2)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        # The location, clamped to the data range (the tails' mass sits on the edge levels).
        log_weight, loc, _ = self._components(params)
        return (log_weight.exp() * loc.clamp(0.0, 1.0)).sum(-2)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        log_weight, loc, log_scale = self._components(params)
        gumbel = -torch.log(-torch.log(torch.rand_like(log_weight).clamp(1e-10, 1.0 - 1e-7)))
        pick = F.one_hot((log_weight + gumbel).argmax(-2), self.mixtures).movedim(-1, -2).to(loc.dtype)
        u = torch.rand_like(loc).clamp(1e-5, 1.0 - 1e-5)
        draw = ((loc + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))) * pick).sum(-2)
        steps = self.levels - 1
        return torch.round(draw.clamp(0.0, 1.0) * steps) / steps
