"""MLP nets read as lists of dense layers, for the hand-written passes.

The fused training step and the fused NLL chunk run an MLP's layers themselves, the first to
write out the backward pass and the second to reuse buffers. Both read the nets here, through
the nets' public accessors only (``GaussianEncoder.hidden_layers`` and its heads ``mu`` and
``logvar``, ``MLPDecoder.layers``): each ``Linear`` with the plain activation that follows it,
and for each activation its backward (through the ATen kernels autograd calls, see
:mod:`vaekit.fast.kernels`) and an in-place forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.nets.layers import Tanh, tanh_in_place
from vaekit.nets.mlp import GaussianEncoder, MLPDecoder

#: the tanh modules the passes read: torch's, and the nets' own (NumPy's forward outside autograd)
TANH_MODULES = (nn.Tanh, Tanh)

#: Gradient of an activation: ``(grad_out, pre_activation, output) -> grad_in``.
ActivationGrad = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: An activation applied in place to its pre-activation; returns that tensor (or, where no
#: in-place kernel exists, a new one).
ActivationInPlace = Callable[[torch.Tensor], torch.Tensor]


def activation_grad(module: nn.Module) -> ActivationGrad | None:
    """Return the backward of ``module`` (an activation), or None if it is not supported."""
    aten = torch.ops.aten
    kind = type(module)
    if kind is nn.ReLU:
        return lambda g, a, h: aten.threshold_backward(g, h, 0)
    if kind in TANH_MODULES:
        return lambda g, a, h: aten.tanh_backward(g, h)
    if kind is nn.SiLU:
        return lambda g, a, h: aten.silu_backward(g, a)
    if kind is nn.GELU:
        approximate = module.approximate
        return lambda g, a, h: aten.gelu_backward(g, a, approximate=approximate)
    if kind is nn.ELU:
        alpha = module.alpha
        return lambda g, a, h: aten.elu_backward(g, alpha, 1, 1, False, a)
    if kind is nn.LeakyReLU:
        slope = module.negative_slope
        return lambda g, a, h: aten.leaky_relu_backward(g, a, slope, False)
    return None


def activation_in_place(module: nn.Module) -> ActivationInPlace:
    """Return ``module``'s forward that overwrites its input where PyTorch has such a kernel
    (GELU has none: it returns a new tensor). ``module`` must be one :func:`activation_grad` knows."""
    kind = type(module)
    if kind is nn.ReLU:
        return torch.relu_
    if kind in TANH_MODULES:
        return tanh_in_place
    if kind is nn.SiLU:
        return lambda a: F.silu(a, inplace=True)
    if kind is nn.ELU:
        alpha = module.alpha
        return lambda a: F.elu(a, alpha, inplace=True)
    if kind is nn.LeakyReLU:
        slope = module.negative_slope
        return lambda a: F.leaky_relu(a, slope, inplace=True)
    return module


def backward_reads_output_only(module: nn.Module) -> bool:
    """Return whether ``module``'s backward (see :func:`activation_grad`) needs only the
    activation's output, so the forward may overwrite the pre-activation (ReLU and Tanh)."""
    return type(module) is nn.ReLU or type(module) in TANH_MODULES


@dataclass
class DenseLayer:
    """One dense layer of an MLP and the activation that follows it (None: a linear output)."""

    linear: nn.Linear
    activation: nn.Module | None
    activation_grad: ActivationGrad | None


def dense_layers(layers: nn.Sequential) -> list[DenseLayer] | str:
    """Return ``layers`` (Linear layers with bias, each followed by at most one plain activation:
    relu, tanh, elu, gelu, silu or leaky_relu) as dense layers, or a sentence saying why they
    cannot be read that way (another kind of layer, e.g. a normalisation)."""
    dense: list[DenseLayer] = []
    for module in layers:
        if type(module) is nn.Linear:
            if module.bias is None:
                return "a Linear layer without bias"
            dense.append(DenseLayer(module, None, None))
            continue
        grad = activation_grad(module)
        if grad is None:
            return f"layer {type(module).__name__} is not one the fused passes know (Linear or a plain activation)"
        if not dense or dense[-1].activation is not None:
            return "an activation that does not follow a Linear layer"
        dense[-1].activation, dense[-1].activation_grad = module, grad
    return dense


def mlp_layers(net: nn.Module) -> list[DenseLayer] | str:
    """Return the dense layers of an MLP net (a :class:`GaussianEncoder`'s hidden layers, before
    its heads, or an :class:`MLPDecoder`'s layers), or a sentence saying why they cannot be read
    that way."""
    if type(net) is GaussianEncoder:
        return dense_layers(net.hidden_layers)
    if type(net) is MLPDecoder:
        return dense_layers(net.layers)
    return f"net {type(net).__name__} (the fused passes read the MLP encoder and decoder)"


def encoder_heads(encoder: GaussianEncoder) -> tuple[nn.Linear, nn.Linear]:
    """Return the ``mu`` and ``logvar`` heads of an MLP encoder, which follow its hidden layers."""
    return encoder.mu, encoder.logvar
