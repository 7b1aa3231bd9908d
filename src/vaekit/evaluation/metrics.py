"""Evaluation metrics in the library's units: nats per example, and bits per dimension."""

from __future__ import annotations

import math


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    """Convert nats per example to bits per dimension: nats / (D ln 2)."""
    return nats_per_example / (dim * math.log(2.0))
