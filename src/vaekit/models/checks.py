"""Checks every model family's passes share, so that no training or evaluation path can skip them.

``check_per_example`` runs inside the base passes (``VAE.forward``, ``VAE.log_weights``, the
hierarchies' and the autoencoder's), which every objective, built-in or not, goes through, and
inside the objectives that call ``likelihood.log_prob`` themselves. It compares shapes only (no
read of the values), so it costs nothing per step, on any device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vaekit.runtime.errors import ConfigError

__all__ = ["check_per_example"]


def check_per_example(log_prob: torch.Tensor, expected: Sequence[int], model: Any) -> torch.Tensor:
    """Return ``log_prob``, the model's likelihood at a batch (nats per example), after checking
    that it has the ``expected`` shape: one value per example, ``[B]`` (``[K, B]`` for K
    posterior draws). A likelihood that does not sum over the D data dimensions raises
    ``ConfigError`` naming it here, rather than a loss D times too small or a broadcast error
    further on (or none, where D equals B)."""
    if tuple(log_prob.shape) != tuple(expected):
        likelihood = getattr(model, "likelihood", None)
        name = "the likelihood"
        if likelihood is not None:
            name = f"likelihood {getattr(likelihood, 'name', None) or type(likelihood).__name__!r}"
        raise ConfigError(
            f"{name}: log_prob returned shape {list(log_prob.shape)} where {list(expected)} was "
            f"expected: log_prob must return one value per example ([B], nats, with any leading sample "
            f"dimensions of params), summed over the D data dimensions, e.g. by ending it with .sum(-1)"
        )
    return log_prob
