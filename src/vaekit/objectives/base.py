"""What every training objective returns, and the objectives' registry by name.

An objective is called once per training step as ``objective(model, x, y, step)``: it runs
the model on the batch ``x`` ``[B, D]`` (with labels ``y`` for conditional models) and returns
a :class:`StepLoss`. ``step`` counts the optimizer steps already taken (0 on the first), so
schedules such as KL warm-up depend on it alone and a resumed run replays them exactly.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.models.checks import check_per_example
from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry

__all__ = ["OBJECTIVES", "StepLoss", "check_per_example", "kl_layers_of", "model_args", "register_objective"]


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
#: how the training loop calls an objective, for messages
OBJECTIVE_CALL = "def __call__(self, model, x, y=None, step=0) -> StepLoss"


def _check_objective_class(name: str, factory: Any) -> None:
    """Refuse, when it registers, an objective class that cannot be called as the training loop
    calls it, ``objective(model, x, y, step)``: no ``__call__``, or one of another signature."""
    if not isinstance(factory, type):
        return
    if not any("__call__" in vars(c) for c in factory.__mro__ if c is not object):
        raise ConfigError(
            f"objective {name!r}: {factory.__name__} defines no __call__; an objective is called once per "
            f"training step as objective(model, x, y, step): define {OBJECTIVE_CALL} (see docs/extending.md)"
        )
    try:
        inspect.signature(factory.__call__).bind(None, "model", "x", "y", "step")
    except TypeError:
        raise ConfigError(
            f"objective {name!r}: {factory.__name__}.__call__{inspect.signature(factory.__call__)} cannot be called "
            f"as the training loop calls it, objective(model, x, y, step): define {OBJECTIVE_CALL} (step: the "
            f"optimizer steps taken before this one, for schedules; see docs/extending.md)"
        ) from None


OBJECTIVES: Registry[type] = Registry("objective", check_piece=_check_objective_class)
register_objective = OBJECTIVES.register


def model_args(model: Any, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Return the extra positional arguments of the model's calls: ``(y,)`` for conditional
    models, nothing otherwise."""
    return (y,) if getattr(model, "conditional", False) else ()


def kl_layers_of(output: Any) -> torch.Tensor | None:
    """Return a model output's per-layer KL ``[B, n_layers]`` (hierarchical models), else None."""
    return getattr(output, "kl_layers", None)
