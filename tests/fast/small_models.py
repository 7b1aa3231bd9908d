"""Small models for the fast-path tests, built through the model registry."""

from __future__ import annotations

from collections.abc import Callable
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


def autograd_and_fused(
    fused_step: Callable[[torch.nn.Module, Any], Callable[..., Any]], model: torch.nn.Module, objective: Any, x: torch.Tensor, step: int = 0
) -> list[tuple[Any, dict[str, torch.Tensor]]]:
    """Return [autograd, fused] as (StepLoss, {name: grad}) of one step on ``x`` from the same
    noise, the fused one from ``fused_step(model, objective)``."""
    results = []
    for fused in (False, True):
        for p in model.parameters():
            p.grad = None
        torch.manual_seed(1)
        if fused:
            terms = fused_step(model, objective)(x, step)
        else:
            terms = objectives.training_loss(objective, model, x, None, step)
            terms.loss.backward()
        results.append((terms, {name: p.grad.clone() for name, p in model.named_parameters()}))
    return results


def iwae_gradients_under_roulette(
    model: torch.nn.Module, objective: Any, x: torch.Tensor, min_weight: float
) -> tuple[dict[str, torch.Tensor], int, int]:
    """Return autograd's IWAE gradients with ``--min-backward-weight``'s roulette (``{name:
    grad}``, drawn after ``torch.manual_seed(1)`` like :func:`autograd_and_fused`): a draw whose
    normalised importance weight w~ is below ``min_weight`` (W) weighs W when its uniform draw
    (the roulette's own, of seed 0 and step 0) is below w~ / W, else 0; with how many light
    draws won and lost.

    The IWAE gradient is sum_k w~_k grad log w_k / B, so the reference is the gradient of that
    sum with the light draws' w~ replaced."""
    from vaekit.fast.dense_passes import roulette_uniforms
    from vaekit.objectives.iwae import importance_weights

    for p in model.parameters():
        p.grad = None
    torch.manual_seed(1)
    log_weights = importance_weights(model, x, objective.k).log_weights
    normalised = torch.softmax(log_weights.detach(), 0)
    uniform = roulette_uniforms(normalised.reshape(-1), seed=0, step=0).view_as(normalised)
    light, wins = normalised < min_weight, uniform * min_weight < normalised
    weights = torch.where(light, wins.to(normalised.dtype) * min_weight, normalised)
    (-(weights * log_weights).sum(0).mean()).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return grads, int((light & wins).sum()), int((light & ~wins).sum())
