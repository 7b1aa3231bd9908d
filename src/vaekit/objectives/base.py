"""What every training objective returns, and the objectives' registry by name.

An objective is called once per training step as ``objective(model, x, y, step)``: it runs
the model on the batch ``x`` ``[B, D]`` (with labels ``y`` for conditional models) and returns
a :class:`StepLoss`. ``step`` counts the optimizer steps already taken (0 on the first), so
schedules such as KL warm-up depend on it alone and a resumed run replays them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry


@dataclass
class StepLoss:
    """One step's loss (scalar, nats per example, minimised) and, for the metrics log, the
    per-example reconstruction term E_q log p(x|z) and KL estimate, each ``[B]`` in nats.
    ``kl_layers`` ``[B, n_layers]`` (nats) splits the KL over the stochastic layers of a
    hierarchical model, bottom (z_1) first, and is None for one latent layer."""

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_layers: torch.Tensor | None = None


#: every training objective by name; all keyword arguments of an objective are user options
OBJECTIVES: Registry[type] = Registry("objective")
register_objective = OBJECTIVES.register


def model_args(model: Any, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Return the extra positional arguments of the model's calls: ``(y,)`` for conditional
    models, nothing otherwise."""
    return (y,) if getattr(model, "conditional", False) else ()


def check_per_example(log_prob: torch.Tensor, expected: tuple[int, ...], model: Any) -> torch.Tensor:
    """Return ``log_prob``, the model's likelihood at a batch, after checking that it has the
    ``expected`` shape: one value per example, ``[B]`` (``[K, B]`` for K posterior draws).
    A likelihood that does not sum over the D data dimensions raises ``ConfigError`` naming it
    here, rather than a broadcast error further on (or none, where D equals B)."""
    if tuple(log_prob.shape) != tuple(expected):
        likelihood = getattr(model, "likelihood", None)
        name = "the likelihood"
        if likelihood is not None:
            name = f"likelihood {likelihood.name or type(likelihood).__name__!r}"
        raise ConfigError(
            f"{name}: log_prob returned shape {list(log_prob.shape)} where {list(expected)} was "
            f"expected: log_prob must return one value per example ([B], nats, with any leading sample "
            f"dimensions of params), summed over the D data dimensions, e.g. by ending it with .sum(-1)"
        )
    return log_prob


def kl_layers_of(output: Any) -> torch.Tensor | None:
    """Return a model output's per-layer KL ``[B, n_layers]`` (hierarchical models), else None."""
    return getattr(output, "kl_layers", None)
