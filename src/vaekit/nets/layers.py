"""Small building blocks shared by the nets: activations, normalisation, conditioning."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: torch threads up to which tanh, exp and log on a CPU tensor outside autograd are NumPy's: its
#: SIMD loops run on one thread several times faster than ATen's CPU kernels, which split large
#: tensors over threads instead
NUMPY_MAX_THREADS = 4


def numpy_applies(t: torch.Tensor) -> bool:
    """Return whether an elementwise function of ``t`` goes through NumPy (:func:`tanh_in_place`,
    :class:`Tanh`, the fused Bernoulli term's exp and log): a float32/float64 CPU tensor that
    does not require grad, outside ``torch.compile``, while torch runs on at most
    :data:`NUMPY_MAX_THREADS` threads."""
    return (
        t.device.type == "cpu"
        and t.dtype in (torch.float32, torch.float64)
        and not t.requires_grad
        and not t.is_neg()  # a negated view has no NumPy array
        and torch.get_num_threads() <= NUMPY_MAX_THREADS
        and not torch.compiler.is_compiling()
    )


def numpy_ufunc(ufunc: np.ufunc, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Write ``ufunc(a)`` into ``out`` (CPU tensors; ``out`` may be ``a``) and return ``out``. As
    torch's kernels, it is silent where a value overflows to inf or leaves the domain (NaN): the
    callers check the results."""
    with np.errstate(all="ignore"):
        ufunc(a.numpy(), out=out.numpy())
    return out


def _in_place(a: torch.Tensor, ufunc: np.ufunc, method: str) -> torch.Tensor:
    return numpy_ufunc(ufunc, a, a) if numpy_applies(a) else getattr(a, method)()


def tanh_in_place(a: torch.Tensor) -> torch.Tensor:
    """Overwrite ``a`` with ``tanh(a)`` and return it, through NumPy where
    :func:`numpy_applies` (the hand-written passes' case), else ``a.tanh_()``."""
    return _in_place(a, np.tanh, "tanh_")


def exp_in_place(a: torch.Tensor) -> torch.Tensor:
    """Overwrite ``a`` with ``exp(a)`` and return it, through NumPy where :func:`numpy_applies`,
    else ``a.exp_()``."""
    return _in_place(a, np.exp, "exp_")


def log_in_place(a: torch.Tensor) -> torch.Tensor:
    """Overwrite ``a`` with ``log(a)`` (nats) and return it, through NumPy where
    :func:`numpy_applies`, else ``a.log_()``."""
    return _in_place(a, np.log, "log_")


class Tanh(nn.Tanh):
    """``nn.Tanh`` whose forward outside autograd (evaluation, sampling, the NLL) runs NumPy's
    tanh where :func:`numpy_applies`; under autograd it is ``torch.tanh``. It holds no
    state, so checkpoints do not depend on it."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not numpy_applies(input):
            return torch.tanh(input)
        return numpy_ufunc(np.tanh, input, torch.empty(input.shape, dtype=input.dtype))


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
