"""Small building blocks shared by the nets: activations, normalisation, conditioning."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: torch threads up to which tanh on a CPU tensor outside autograd is NumPy's: its SIMD loop runs
#: on one thread several times faster than ATen's CPU kernel, which splits large tensors over threads
NUMPY_TANH_MAX_THREADS = 4


def numpy_tanh_applies(t: torch.Tensor) -> bool:
    """Return whether tanh of ``t`` goes through NumPy: a float32/float64 CPU tensor that does
    not require grad, outside ``torch.compile``, while torch runs on at most
    :data:`NUMPY_TANH_MAX_THREADS` threads."""
    return (
        t.device.type == "cpu"
        and t.dtype in (torch.float32, torch.float64)
        and not t.requires_grad
        and not t.is_neg()  # a negated view has no NumPy array
        and torch.get_num_threads() <= NUMPY_TANH_MAX_THREADS
        and not torch.compiler.is_compiling()
    )


def tanh_in_place(a: torch.Tensor) -> torch.Tensor:
    """Overwrite ``a`` with ``tanh(a)`` and return it, through NumPy where
    :func:`numpy_tanh_applies` (the hand-written passes' case), else ``a.tanh_()``."""
    if numpy_tanh_applies(a):
        values = a.numpy()
        np.tanh(values, out=values)
        return a
    return a.tanh_()


class Tanh(nn.Tanh):
    """``nn.Tanh`` whose forward outside autograd (evaluation, sampling, the NLL) runs NumPy's
    tanh where :func:`numpy_tanh_applies`; under autograd it is ``torch.tanh``. It holds no
    state, so checkpoints do not depend on it."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not numpy_tanh_applies(input):
            return torch.tanh(input)
        out = torch.empty(input.shape, dtype=input.dtype)
        np.tanh(input.numpy(), out=out.numpy())
        return out


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": Tanh,
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
