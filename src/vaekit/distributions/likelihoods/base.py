"""The likelihood interface and its registry by name.

Every ``log_prob`` returns nats per example (summed over the D data dimensions), shape ``[...]``
for inputs ``x`` ``[B, D]`` and parameters ``[..., B, D * params_per_dim]`` (leading sample
dimensions broadcast). Parameters are laid out parameter-major: the first D values are the
first parameter of every dimension, the next D the second, and so on.

Each family records which kinds of data it is a true likelihood for (``exact_for``), so that
evaluation never calls a Bernoulli score of grey levels an NLL.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry


class Likelihood(nn.Module):
    """Base class. ``params_per_dim`` decoder outputs are produced for each data dimension."""

    name: str = ""
    params_per_dim: int = 1
    #: value ranges ("binary", "unit", "real") on which ``log_prob`` is a normalised density/mass
    exact_for: frozenset[str] = frozenset()
    #: whether a fresh decoder starts from the data's marginals unless told otherwise
    #: (``train.output_bias: auto``); a likelihood offers them with ``start_from_marginals(x)``
    marginals_by_default: bool = False

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return log p(x|params) in nats per example, summed over D; shape ``params.shape[:-1]``."""
        raise NotImplementedError

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return the terms of :meth:`log_prob` per feature, nats, ``[..., F]``: F = D for a
        likelihood that factorises over the data dimensions (a table's ``mixed`` likelihood
        gives one per column block). They sum to ``log_prob``; they explain anomaly scores
        (``explain``), which a likelihood without them refuses with ``ConfigError``."""
        raise ConfigError(
            f"the {self.name or type(self).__name__!r} likelihood does not give per-feature terms, which explaining "
            f"a score needs: define its log_prob_terms(x, params), returning the nats of each feature [..., D] "
            f"that sum to log_prob (see docs/extending.md), or use score() for the scores alone"
        )

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return E[x|z], ``[..., D]``, in data units."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a draw x ~ p(x|z), ``[..., D]``."""
        raise NotImplementedError

    def split_params(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the ``params_per_dim`` parameter tensors, each ``[..., D]``."""
        return params.chunk(self.params_per_dim, dim=-1)


#: every likelihood by name; the library supplies ``dim`` (D) and, to those that take it,
#: ``levels`` (grey levels of the data) and ``blocks`` (a table's column blocks, from its
#: codec); other keyword arguments are the user's options
LIKELIHOODS: Registry[type[Likelihood]] = Registry(
    "likelihood",
    supplied=("dim", "levels", "blocks"),
    required=("dim",),
    base="vaekit.distributions.likelihoods:Likelihood",
)
register_likelihood = LIKELIHOODS.register


def create_likelihood(name: str, dim: int, **options: object) -> Likelihood:
    """Build the likelihood registered as ``name`` for ``dim`` data dimensions."""
    return LIKELIHOODS.build(name, options, required={"dim": dim})


def likelihood_is_exact(likelihood: Any, value_range: str | None, dequantize: str = "none") -> bool:
    """Return True when ``likelihood.log_prob`` is a normalised density or mass for the data the
    model is evaluated on, so that its bound may be called a log-likelihood.

    Uniformly dequantised pixels are continuous values in [0, 1): any density on the real line
    (``"real"`` in ``exact_for``) is a (sub-)normalised density for them. Otherwise the data's
    value range (``"binary"``, ``"unit"``, ``"real"``) must be one the likelihood is exact for."""
    if dequantize == "uniform":
        return "real" in likelihood.exact_for
    return value_range in likelihood.exact_for
