"""The one check that this torch has the private kernels the fast paths call.

The fast paths call a few kernels that are not torch's public API: ``torch._fused_adam_``,
``torch._foreach_add_`` and ATen's activation backwards (``torch.ops.aten.*_backward``). Such
names may change between torch releases, so every use sits behind :func:`private_kernels_available`;
where it says no, each fast path takes the public path instead (the functional
``torch.optim.adam.adam`` for the Adam step, autograd for the training step).
"""

from __future__ import annotations

from functools import cache

import torch
from torch.torch_version import TorchVersion

#: The oldest torch whose private kernels have the signatures the fast paths call.
MIN_TORCH = "2.1"
#: ATen's backward kernels of the activations the fused passes know.
ACTIVATION_BACKWARDS = (
    "threshold_backward",
    "tanh_backward",
    "silu_backward",
    "gelu_backward",
    "elu_backward",
    "leaky_relu_backward",
)


@cache
def private_kernels_available() -> bool:
    """Return whether this torch (at least ``MIN_TORCH``) has every private kernel the fast paths call."""
    if TorchVersion(torch.__version__) < MIN_TORCH:
        return False
    aten = torch.ops.aten
    return (
        hasattr(torch, "_fused_adam_")
        and hasattr(torch, "_foreach_add_")
        and all(hasattr(aten, name) for name in ACTIVATION_BACKWARDS)
    )
