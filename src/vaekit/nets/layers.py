"""Small building blocks shared by the nets: activations, normalisation, conditioning."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}

NORMALIZATIONS = ("none", "batch", "layer")


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (one of ``ACTIVATIONS``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def make_normalization(name: str, width: int, conv: bool = False) -> list[nn.Module]:
    """Return the normalisation layer(s) for ``name`` over ``width`` features (or channels):
    an empty list for ``"none"``."""
    if name == "none":
        return []
    if name == "batch":
        return [nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)]
    if name == "layer":
        # For feature maps: one group normalises over channels and positions, like LayerNorm.
        return [nn.GroupNorm(1, width) if conv else nn.LayerNorm(width)]
    raise ValueError(f"unknown normalization {name!r}; choose one of {list(NORMALIZATIONS)}")


def with_condition(h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """Append the condition ``cond`` ``[B, C]`` to features ``h`` ``[..., B, F]`` (broadcast over
    leading sample dimensions); return ``h`` unchanged when ``cond`` is None."""
    if cond is None:
        return h
    return torch.cat([h, cond.expand(*h.shape[:-1], cond.shape[-1])], dim=-1)
