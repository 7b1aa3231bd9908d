"""Evaluation metrics in the library's units: nats per example, and bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import torch


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    """Convert nats per example to bits per dimension: nats / (D ln 2)."""
    return nats_per_example / (dim * math.log(2.0))


def elbo_report(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    is_image: bool,
    value_range: str | None,
    seed: int = 0,
    batch_size: int = 1024,
    y: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Return the single-sample ELBO terms on ``x`` ``[N, D]`` without the importance-sampled
    NLL or the probe: ``evaluation.evaluate_model`` with ``k=0`` (see it for the keys). The
    terms are called ``elbo``/``recon`` only when the likelihood is exact for the data, and
    ``loss``/``recon_loss`` with a ``note`` otherwise; nats per example. Conditional models need
    the labels ``y`` of the rows."""
    from vaekit.evaluation.report import evaluate_model

    return evaluate_model(
        model, x, labels=y, value_range=value_range, is_image=is_image, k=0, seed=seed, batch_size=batch_size
    )
