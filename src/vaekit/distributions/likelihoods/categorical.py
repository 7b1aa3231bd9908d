"""Categorical p(x|z) over groups of one-hot columns (e.g. the encoded categorical columns of
a table)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood


@register_likelihood("categorical")
class CategoricalLikelihood(Likelihood):
    """Independent categoricals over consecutive groups of one-hot columns.

    ``groups`` lists the group sizes in column order, e.g. ``[3, 4, 2]`` for a 9-column table
    holding three one-hot variables; by default all D columns form one variable. The decoder
    gives one logit per column. Exact for binary (one-hot) data.
    """

    exact_for = frozenset({"binary"})

    def __init__(self, dim: int, groups: Sequence[int] | None = None) -> None:
        super().__init__()
        groups = [dim] if groups is None else [int(g) for g in groups]
        if any(g < 1 for g in groups) or sum(groups) != dim:
            raise ValueError(
                f"categorical groups {groups} must be positive sizes that add up to the {dim} data columns"
            )
        self.dim = dim
        self.groups = groups

    def _log_softmax(self, params: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.log_softmax(p, dim=-1) for p in params.split(self.groups, dim=-1)], dim=-1)

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.log_prob_terms(x, params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        # One term per one-hot slot: a group's slots sum to its value's log probability.
        return x * self._log_softmax(params)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return self._log_softmax(params).exp()

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        parts = []
        for logits, size in zip(params.split(self.groups, dim=-1), self.groups, strict=True):
            index = torch.distributions.Categorical(logits=logits).sample()
            parts.append(F.one_hot(index, size).to(params.dtype))
        return torch.cat(parts, dim=-1)
