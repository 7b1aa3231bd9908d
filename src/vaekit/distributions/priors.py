"""Priors p(z), the interface every prior follows (:class:`Prior`), and their registry by name.

A prior gives ``log_prob(z)`` (nats, summed over L, leading sample dimensions allowed),
``sample(n, device, temperature)`` and ``kl(mu, logvar, z)``: KL(q(z|x) || p(z)) per example
for the Gaussian posterior q = N(mu, exp(logvar)), analytic where the prior allows it, else a
one-sample Monte Carlo estimate at the posterior draw ``z`` (:class:`Prior`'s own ``kl``).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from vaekit.distributions.posterior import LOG_2PI, kl_standard_normal
from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry

#: what a prior must define, with its signature, for messages
PRIOR_METHODS = {
    "log_prob": "log_prob(self, z) -> [...] nats",
    "sample": "sample(self, n, device='cpu', temperature=1.0) -> [n, latent_dim]",
    "kl": "kl(self, mu, logvar, z) -> (kl [B], kl_per_dim [B, L]) nats",
}


class Prior(nn.Module):
    """Base class of priors p(z) over ``latent_dim`` dimensions: a subclass defines
    :meth:`log_prob` and :meth:`sample`, and inherits a one-sample Monte Carlo :meth:`kl`
    (define ``kl`` for an analytic one, and set ``has_analytic_kl``)."""

    name: str = ""
    #: whether :meth:`kl` is exact (not a Monte Carlo estimate at the posterior draw)
    has_analytic_kl: bool = False

    def __init__(self, latent_dim: int | None = None) -> None:
        super().__init__()
        if latent_dim is not None:  # a subclass may call super().__init__() and set it itself
            self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Return log p(z) summed over the latent dimension, in nats; shape ``z.shape[:-1]``."""
        raise NotImplementedError(_missing(self, "log_prob"))

    def sample(self, n: int, device: torch.device | str = "cpu", temperature: float = 1.0) -> torch.Tensor:
        """Draw ``[n, latent_dim]`` codes on ``device``; ``temperature`` scales their spread."""
        raise NotImplementedError(_missing(self, "sample"))

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return a one-sample Monte Carlo KL(q(z|x) || p(z)) at ``z`` ~ q(z|x) = N(mu, exp(logvar)):
        ``(kl [B], kl_per_dim [B, L])`` in nats. ``kl`` = log q(z|x) - log p(z); ``kl_per_dim``
        is log q_j(z_j|x) - log p_j(z_j) with the prior's marginals ``marginal_log_prob_per_dim``
        where it defines them, else log p(z) spread evenly over the dimensions (a diagnostic,
        for active units and free bits, that need not add up to ``kl``)."""
        log_q_per_dim = -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))
        log_p = self.log_prob(z)
        marginals = getattr(self, "marginal_log_prob_per_dim", None)
        log_p_per_dim = marginals(z) if marginals is not None else (log_p / z.shape[-1]).unsqueeze(-1).expand_as(z)
        return log_q_per_dim.sum(-1) - log_p, log_q_per_dim - log_p_per_dim


def _missing(prior: Any, method: str) -> str:
    """Return the message for a prior without ``method``: what to define."""
    return (
        f"the {getattr(prior, 'name', '') or type(prior).__name__!r} prior does not define "
        f"{method}: define {PRIOR_METHODS[method]} (see docs/extending.md)"
    )


def _check_prior(name: str, factory: Any) -> None:
    """Refuse, when it registers, a prior class that lacks a method training or sampling calls:
    ``log_prob`` and ``sample``, and ``kl`` unless it subclasses :class:`Prior` (which gives one)."""
    if not isinstance(factory, type):
        return
    needed = ["log_prob", "sample"] + ([] if issubclass(factory, Prior) else ["kl"])
    missing = [m for m in needed if not callable(getattr(factory, m, None)) or getattr(factory, m) is getattr(Prior, m)]
    if not missing:
        return
    hint = "" if issubclass(factory, Prior) else (
        "; or subclass vaekit.distributions.Prior, which gives a Monte Carlo kl from log_prob"
    )
    raise ConfigError(
        f"prior {name!r}: {factory.__name__} does not define {' or '.join(missing)}, which vaekit calls: define "
        f"{'; '.join(PRIOR_METHODS[m] for m in missing)}{hint} (see docs/extending.md)"
    )


def _check_kl_signature(name: str, factory: Any) -> None:
    """Refuse a ``kl`` that cannot be called as ``kl(mu, logvar, z)``."""
    kl = getattr(factory, "kl", None)
    try:
        inspect.signature(kl).bind(None, "mu", "logvar", "z")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(
            f"prior {name!r}: {factory.__name__}.kl cannot be called as kl(mu, logvar, z), as vaekit calls it: "
            f"define {PRIOR_METHODS['kl']} (see docs/extending.md)"
        ) from None


def _check_prior_class(name: str, factory: Any) -> None:
    """The prior registry's own check (:func:`_check_prior`, then ``kl``'s signature)."""
    _check_prior(name, factory)
    if isinstance(factory, type):
        _check_kl_signature(name, factory)


#: every prior by name; the library supplies ``latent_dim`` and, to those that take them, the
#: data's ``input_dim`` and the model's ``encoder``
PRIORS: Registry[type[nn.Module]] = Registry(
    "prior", supplied=("latent_dim", "input_dim", "encoder"), required=("latent_dim",), check_piece=_check_prior_class
)
register_prior = PRIORS.register


@register_prior("normal")
class StandardNormalPrior(Prior):
    """p(z) = N(0, I) over ``latent_dim`` dimensions."""

    has_analytic_kl = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) summed over the latent dimension, in nats; shape ``z.shape[:-1]``."""
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)

    def sample(self, n: int, device: torch.device | str = "cpu", temperature: float = 1.0) -> torch.Tensor:
        """Draw ``[n, latent_dim]`` latent codes; ``temperature`` scales the standard deviation."""
        return temperature * torch.randn(n, self.latent_dim, device=device)

    def marginal_log_prob_per_dim(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z_j; 0, 1) of each latent dimension, in nats, ``[..., L]`` (they add up to
        :meth:`log_prob`: the prior factorises)."""
        return -0.5 * (LOG_2PI + z.pow(2))

    def kl_per_dim(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Analytic KL(q(z|x) || p(z)) per latent dimension, in nats, ``[B, L]``."""
        return kl_standard_normal(mu, logvar)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(kl [B], kl_per_dim [B, L])`` in nats, analytic (``z`` is not used)."""
        per_dim = kl_standard_normal(mu, logvar)
        return per_dim.sum(-1), per_dim
