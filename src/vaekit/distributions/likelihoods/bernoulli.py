"""Bernoulli p(x|z) with logits: the usual choice for binary images."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood


@register_likelihood("bernoulli")
class BernoulliLikelihood(Likelihood):
    """Bernoulli with logits. Exact for binary data; on grey levels in [0, 1] it is the common
    cross-entropy training loss but not a normalised likelihood."""

    exact_for = frozenset({"binary"})

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        # x log p + (1-x) log(1-p) = x * logit - softplus(logit), stable for any logit. Summing the
        # two terms separately (the first as a broadcast dot product) reads the [..., D] logits
        # twice instead of materialising the elementwise BCE: ~2x faster for K-sample NLLs.
        if params.shape == x.shape:
            # Training's case: the fused BCE-with-logits kernels, forward and backward.
            return -F.binary_cross_entropy_with_logits(params, x, reduction="none").sum(-1)
        return torch.einsum("...d,...d->...", params, x.to(params.dtype)) - F.softplus(params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(params, x.to(params.dtype).expand_as(params), reduction="none")

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params)

    @torch.no_grad()
    def start_from_marginals(self, x: torch.Tensor) -> torch.Tensor:
        """Return the decoder output bias ``[D]`` (float32 logits) whose probabilities are each
        dimension's mean over the rows ``x`` ``[N, D]`` (values in [0, 1]), smoothed by half an
        example each way, logit((sum + 0.5) / (N + 1)), so that a pixel never on stays finite.
        Grey levels give the mean of their dynamic binarisation."""
        x = x.detach().to("cpu", torch.float64)
        return smoothed_logit(x.sum(0), x.shape[0]).float()

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(params))


def smoothed_logit(ones: torch.Tensor, n: int) -> torch.Tensor:
    """Return the logit of the share of ones, ``ones`` out of ``n`` rows, smoothed by half a
    row each way (logit((ones + 0.5) / (n + 1))), so that a value never or always on stays finite."""
    share = (ones + 0.5) / (n + 1.0)
    return torch.log(share / (1 - share))
