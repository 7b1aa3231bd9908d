"""Small models for the fast-path tests, built through the model registry."""

from __future__ import annotations

from typing import Any

import torch

from vaekit import objectives
from vaekit.models import create
from vaekit.models.build import DataFacts


def small_model(
    name: str = "vae",
    *,
    activation: str = "relu",
    encoder: tuple[int, ...] = (12, 8),
    decoder: tuple[int, ...] | None = None,
    likelihood: str | None = None,
    objective: dict[str, Any] | None = None,
    value_range: str = "unit",
    dtype: torch.dtype = torch.float64,
    net: str = "mlp",
    **net_options: Any,
) -> tuple[torch.nn.Module, Any]:
    """Return ``(model, objective)``: family ``name`` with latent size 3 on 1x4x5 examples with
    3 label classes, nets ``net`` of the given widths (and ``net_options``), seeded weights."""
    net_spec = {"name": net, "encoder": list(encoder), "activation": activation, **net_options}
    if decoder is not None:
        net_spec["decoder"] = list(decoder)
    spec = {"name": name, "latent_dim": 3, "net": net_spec, "likelihood": {"name": likelihood}, "objective": objective}
    torch.manual_seed(0)
    model = create(spec, DataFacts((1, 4, 5), value_range, num_classes=3)).to(dtype)
    return model, objectives.create_objective(objective, model)
