"""Which model classes the fast paths take: the built-in classes they were written for, by exact type.

A fast path computes a model's passes itself (the fused training step, its IWAE and k-sample
ELBO forms, the hierarchy's step, the fused NLL chunk), so it would silently leave out a
family's own ``encode``, ``decode``, ``forward`` or ``log_weights``. A subclass, even one that
overrides nothing, is therefore refused (it trains through its objective and evaluates through
the generic chunk), and so is a built-in model with one of those passes replaced on the instance.
"""

from __future__ import annotations

from torch import nn

from vaekit.models.beta_vae import BetaVAE
from vaekit.models.hierarchical import HierarchicalGaussianVAE
from vaekit.models.iwae import IWAE
from vaekit.models.vae import VAE
from vaekit.models.vamp import VampVAE

__all__ = ["HIERARCHY_FAMILIES", "ONE_LAYER_FAMILIES", "PASSES", "family_unsupported"]

#: the built-in one-layer families whose passes are ``VAE``'s own (``vamp`` with ``--prior normal``
#: is the ``vae``; the prior check refuses its VampPrior)
ONE_LAYER_FAMILIES: tuple[type[nn.Module], ...] = (VAE, IWAE, BetaVAE, VampVAE)
#: the built-in hierarchy the fused hierarchy step was written for (``hvae``)
HIERARCHY_FAMILIES: tuple[type[nn.Module], ...] = (HierarchicalGaussianVAE,)
#: the passes a fast path computes in place of the model's own
PASSES = ("encode", "decode", "forward", "log_weights")


def family_unsupported(model: nn.Module, families: tuple[type[nn.Module], ...]) -> str | None:
    """Return why a fast path written for ``families`` (matched by exact type) cannot take
    ``model``, or None when it can: its class must be one of them, with none of :data:`PASSES`
    replaced on the instance."""
    cls = type(model)
    if cls not in families:
        written_for = ", ".join(f.__name__ for f in families)
        return (
            f"model {cls.__name__} is not a built-in {written_for} (the fast path computes their encode, decode, "
            "forward and log_weights itself, so a subclass trains through its objective)"
        )
    replaced = [name for name in PASSES if name in vars(model)]
    if replaced:
        return f"model {cls.__name__} has its own {', '.join(replaced)} set on the instance"
    return None
