"""The likelihood interface and its registry by name.

Every ``log_prob`` returns nats per example (summed over the D data dimensions), shape ``[...]``
for inputs ``x`` ``[B, D]`` and parameters ``[..., B, D * params_per_dim]`` (leading sample
dimensions broadcast). Parameters are laid out parameter-major: the first D values are the
first parameter of every dimension, the next D the second, and so on.

Each family records which kinds of data it is a true likelihood for (``exact_for``), so that
evaluation never calls a Bernoulli score of grey levels an NLL.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Likelihood(nn.Module):
    """Base class. ``params_per_dim`` decoder outputs are produced for each data dimension."""

    name: str = ""
    params_per_dim: int = 1
    #: value ranges ("binary", "unit", "real") on which ``log_prob`` is a normalised density/mass
    exact_for: frozenset[str] = frozenset()

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return log p(x|params) in nats per example, summed over D; shape ``params.shape[:-1]``."""
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return E[x|z], ``[..., D]``, in data units."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a draw x ~ p(x|z), ``[..., D]``."""
        raise NotImplementedError

    def split_params(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the ``params_per_dim`` parameter tensors, each ``[..., D]``."""
        return params.chunk(self.params_per_dim, dim=-1)


LIKELIHOODS: dict[str, type[Likelihood]] = {}


def register_likelihood(name: str) -> Callable[[type[Likelihood]], type[Likelihood]]:
    """Class decorator adding a likelihood class to ``LIKELIHOODS`` under ``name``."""

    def add(cls: type[Likelihood]) -> type[Likelihood]:
        if name in LIKELIHOODS:
            raise ValueError(f"likelihood name {name!r} is already registered by {LIKELIHOODS[name].__name__}")
        cls.name = name
        LIKELIHOODS[name] = cls
        return cls

    return add


def create_likelihood(name: str, dim: int, **options: object) -> Likelihood:
    """Build the likelihood registered as ``name`` for ``dim`` data dimensions."""
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ValueError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}") from None
    return cls(dim, **options)
