"""The optimizer and the numeric precision of a training run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch

from vaekit.fast.adam import without_compiler_wrappers
from vaekit.runtime.errors import ConfigError


def make_adam(params: Iterable[torch.nn.Parameter], lr: float, fused: bool = False) -> torch.optim.Adam:
    """Return Adam over ``params`` with a constant learning rate; with ``fused``, torch's fused
    kernel (see :func:`vaekit.fast.fused_adam`, which says where it applies)."""
    optimizer = torch.optim.Adam.__new__(torch.optim.Adam)
    # Bound before __init__, which calls add_param_group.
    without_compiler_wrappers(optimizer)
    torch.optim.Adam.__init__(optimizer, params, lr=lr, fused=fused or None)
    return optimizer


def autocast_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Return the autocast context for ``precision`` on ``device`` (a no-op for fp32).

    bf16 runs on CPU and GPU; fp16 only on CUDA (with a gradient scaler, see
    :class:`vaekit.training.step.AutogradStep`)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA GPU; use bf16 (CPU or GPU) or fp32")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
