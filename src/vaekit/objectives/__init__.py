"""Training objectives computed from a model, nats per example throughout, and their registry.

One file per objective; each registers itself with ``@register_objective``. The training loop
calls :func:`training_loss` once per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from vaekit.construct import construct
from vaekit.runtime.errors import ConfigError
from vaekit.objectives.base import OBJECTIVES, StepLoss, model_args, register_objective
from vaekit.objectives.beta_elbo import BetaELBOObjective
from vaekit.objectives.elbo import ELBOObjective, ReconstructionObjective, elbo, negative_elbo_loss
from vaekit.objectives.iwae import ImportanceWeights, IWAEObjective, importance_weights
from vaekit.objectives.schedules import kl_weight

if TYPE_CHECKING:
    from vaekit.config import RunConfig

__all__ = [
    "OBJECTIVES",
    "BetaELBOObjective",
    "ELBOObjective",
    "IWAEObjective",
    "ImportanceWeights",
    "ReconstructionObjective",
    "StepLoss",
    "create_objective",
    "elbo",
    "importance_weights",
    "kl_weight",
    "model_args",
    "negative_elbo_loss",
    "register_objective",
    "training_loss",
]


def create_objective(config: RunConfig, model: Any) -> Any:
    """Build the objective of a run: ``config.model.objective`` if set, else the model family's
    own (``model.objective_name``), with the objective options of ``config.model``."""
    m = config.model
    name = m.objective or getattr(model, "objective_name", "elbo")
    try:
        cls = OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}") from None
    if cls.requires_variational and not getattr(model, "variational", True):
        raise ConfigError(f"objective {name!r} needs a variational model; model {m.name!r} is deterministic")
    return construct(
        cls,
        f"objective {name!r} (model {m.name!r})",
        user={
            "beta": ("--beta", m.beta),
            "warmup": ("--warmup", m.warmup),
            "warmup_steps": ("--warmup-steps", m.warmup_steps),
            "free_bits": ("--free-bits", m.free_bits),
            "k": ("--iwae-k", m.iwae_k),
        },
    )


def training_loss(
    objective: Any, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0
) -> StepLoss:
    """Return the objective's :class:`StepLoss` on batch ``x`` at optimizer step ``step``: the
    one call the training loop makes per step."""
    return objective(model, x, y, step)
