"""Training objectives computed from a model, nats per example throughout, and their registry.

One file per objective; each registers itself with ``@register_objective``. The training loop
calls :func:`training_loss` once per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from vaekit.objectives.base import OBJECTIVES, StepLoss, check_per_example, model_args, register_objective
from vaekit.objectives.beta_elbo import BetaELBOObjective
from vaekit.objectives.elbo import ELBOObjective, ReconstructionObjective, elbo, negative_elbo_loss
from vaekit.objectives.iwae import ImportanceWeights, IWAEObjective, MultiSampleELBOObjective, importance_weights
from vaekit.objectives.schedules import kl_weight
from vaekit.runtime.errors import ConfigError

__all__ = [
    "OBJECTIVES",
    "BetaELBOObjective",
    "ELBOObjective",
    "IWAEObjective",
    "MultiSampleELBOObjective",
    "ImportanceWeights",
    "ReconstructionObjective",
    "StepLoss",
    "check_per_example",
    "create_objective",
    "elbo",
    "importance_weights",
    "kl_weight",
    "model_args",
    "negative_elbo_loss",
    "register_objective",
    "training_loss",
]


def create_objective(piece: Mapping[str, Any] | None, model: Any) -> Any:
    """Build a run's objective from its config piece ``{"name": ..., **options}``: the named
    objective, or the model family's own (``model.objective_name``) when the name is null."""
    options = dict(piece or {})
    name = options.pop("name", None) or getattr(model, "objective_name", "elbo")
    cls = OBJECTIVES.get_factory(name)
    family = getattr(model, "registry_name", type(model).__name__)
    # An objective that does not say is taken to need the posterior, as nearly all do.
    if getattr(cls, "requires_variational", True) and not getattr(model, "variational", True):
        message = f"objective {name!r} needs a variational model; model {family!r} is deterministic"
        if not hasattr(cls, "requires_variational"):
            message += (
                f" ({cls.__qualname__} does not set requires_variational, so it is taken to need one; an "
                f"objective that works without a posterior sets requires_variational = False)"
            )
        raise ConfigError(message)
    return OBJECTIVES.build(name, options, what=f"objective {name!r} (model {family!r})")


def training_loss(
    objective: Any, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0
) -> StepLoss:
    """Return the objective's :class:`StepLoss` on batch ``x`` at optimizer step ``step``: the
    one call the training loop makes per step. Anything else it returns, or a ``recon`` that is
    not one value per example (nats, ``[B]``), raises ``ConfigError``."""
    terms = objective(model, x, y, step)
    name = getattr(objective, "name", "") or type(objective).__name__
    if not isinstance(terms, StepLoss):
        raise ConfigError(
            f"objective {name!r} returned a {type(terms).__name__}, not a StepLoss: an objective's __call__ "
            f"returns vaekit.objectives.StepLoss(loss, recon, kl), the scalar loss to minimise and the "
            f"reconstruction term and KL per example ([B], nats) for the metrics log"
        )
    if getattr(terms.loss, "shape", None) != torch.Size([]):
        shape = getattr(terms.loss, "shape", None)
        raise ConfigError(
            f"objective {name!r} returned a loss of shape {list(shape) if shape is not None else type(terms.loss).__name__} "
            "where one number was expected: StepLoss.loss is the scalar to minimise, e.g. the batch mean "
            "(-(recon - kl).mean())"
        )
    # A shape comparison, no read of the values: free on every step. It catches a family whose
    # own forward skips the base passes' check of log_prob.
    recon = getattr(terms.recon, "shape", None)
    if recon is not None and tuple(recon) != tuple(x.shape[:1]):
        raise ConfigError(
            f"objective {name!r} returned recon of shape {list(recon)} where {list(x.shape[:1])} was expected: "
            f"StepLoss.recon is one value per example ([B], nats); a likelihood whose log_prob does not sum over "
            f"the D data dimensions gives this: end log_prob with .sum(-1)"
        )
    return terms
