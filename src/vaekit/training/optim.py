"""The optimizer and the numeric precision of a training run."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

import torch

from vaekit.fast.adam import without_compiler_wrappers
from vaekit.runtime.errors import ConfigError


def make_adam(
    params: Iterable[torch.nn.Parameter],
    lr: float,
    fused: bool = False,
    eps: float = 1e-8,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Adam:
    """Return Adam over ``params`` with learning rate ``lr``, epsilon ``eps`` and decay rates
    ``betas``; with ``fused``, torch's fused kernel (see :func:`vaekit.fast.fused_adam`, which
    says where it applies)."""
    optimizer = torch.optim.Adam.__new__(torch.optim.Adam)
    # Bound before __init__, which calls add_param_group.
    without_compiler_wrappers(optimizer)
    torch.optim.Adam.__init__(optimizer, params, lr=lr, betas=betas, eps=eps, fused=fused or None)
    return optimizer


#: Burda et al.'s (2015) schedule: 3^i epochs at 10^(-i/7) times the base rate, i = 0..7
BURDA_STAGES = 8


def learning_rate(base: float, schedule: str, epoch: int, epochs: int | None = None) -> float:
    """Return the learning rate of epoch ``epoch`` (counted from 1) under ``schedule``:
    ``"constant"`` gives ``base``; ``"burda"`` gives ``base * 10 ** (-i / 7)`` during the 3^i
    epochs of stage i (epochs 1, 2-4, 5-13, ..., 1094-3280), and the last stage's rate after;
    ``"cosine"`` falls from ``base`` at epoch 1 along half a cosine towards 0 at epoch
    ``epochs + 1`` (the run's length, required), and stays at the last epoch's rate after it."""
    if schedule == "constant":
        return base
    if schedule == "cosine":
        if not epochs or epochs < 1:
            raise ConfigError(f"lr_schedule cosine needs the run's epochs (a positive count), got {epochs!r}")
        return base * 0.5 * (1 + math.cos(math.pi * (min(epoch, epochs) - 1) / epochs))
    if schedule != "burda":
        raise ConfigError(f"lr_schedule must be constant, burda or cosine, got {schedule!r}")
    end = 0
    for stage in range(BURDA_STAGES):
        end += 3**stage
        if epoch <= end:
            return base * 10 ** (-stage / 7)
    return base * 10 ** (-(BURDA_STAGES - 1) / 7)


def autocast_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Return the autocast context for ``precision`` on ``device`` (a no-op for fp32 and for
    bf16-grad, whose forward pass is float32).

    bf16 runs on CPU and GPU; fp16 only on CUDA (with a gradient scaler, see
    :class:`vaekit.training.step.AutogradStep`)."""
    if precision in ("fp32", "bf16-grad"):
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA GPU; use bf16 (CPU or GPU) or fp32")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
