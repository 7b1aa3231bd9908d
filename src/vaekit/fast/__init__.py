"""Optional fast paths, each exact against the plain path and chosen here, in one place.

One setting, ``mode``, chooses them (a run's ``train.fast``): ``"auto"`` takes every fast path
that applies, ``"off"`` the plain reference path (autograd, ``optimizer.step()``, the generic
NLL chunk, subnormals kept). Nothing outside this package knows how a fast path works: the
training loop asks for a training step and an optimizer step, evaluation asks for an NLL chunk,
and each gets ``None`` (or the plain callable) where no fast path applies. Private torch kernels
are called only behind :func:`~vaekit.fast.kernels.private_kernels_available`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch

from vaekit.config import FAST_MODES
from vaekit.fast.adam import DirectAdamStep
from vaekit.fast.denormals import flushing_denormals
from vaekit.fast.fused_chunk import FusedBernoulliChunk, fused_chunk_unsupported
from vaekit.fast.fused_step import FusedTrainingStep, fused_step_unsupported

__all__ = [
    "MODES",
    "DirectAdamStep",
    "FusedBernoulliChunk",
    "FusedTrainingStep",
    "denormals_flushed",
    "fused_adam",
    "nll_chunk_for",
    "optimizer_step_for",
    "training_step_for",
]

#: "auto": every exact fast path that applies; "off": the plain reference path.
MODES = FAST_MODES


def _enabled(mode: str) -> bool:
    if mode not in MODES:
        raise ValueError(f"fast must be one of {', '.join(MODES)}, got {mode!r}")
    return mode == "auto"


def denormals_flushed(mode: str) -> AbstractContextManager[bool]:
    """Return the context in which training runs: float32 subnormals flushed to zero on the CPU
    under ``"auto"`` (see :mod:`vaekit.fast.denormals`), kept under ``"off"``."""
    return flushing_denormals(_enabled(mode))


def fused_adam(mode: str, device: torch.device) -> bool:
    """Return whether ``torch.optim.Adam`` should run its fused kernel (one pass over all
    parameters per step) on ``device``: under ``"auto"``, where torch has it for the device."""
    return _enabled(mode) and device.type in ("cpu", "cuda", "mps")


def optimizer_step_for(optimizer: torch.optim.Optimizer, mode: str = "auto") -> Callable[[], None]:
    """Return the callable that takes one optimizer step: a :class:`DirectAdamStep` for Adam
    under ``"auto"`` (bit-identical to ``optimizer.step()``), else ``optimizer.step``."""
    if _enabled(mode) and type(optimizer) is torch.optim.Adam:
        return DirectAdamStep(optimizer)
    return optimizer.step


def training_step_for(
    model: torch.nn.Module,
    objective: Any,
    optimizer: torch.optim.Optimizer,
    *,
    mode: str = "auto",
    grad_clip: float | None = None,
    precision: str = "fp32",
    compile: bool = False,
) -> FusedTrainingStep | None:
    """Return the fused training step (same gradients as autograd, no graph; then clipping and
    the optimizer step) for a run it covers under ``"auto"``, else None: the caller then trains
    through autograd. :func:`~vaekit.fast.fused_step.fused_step_unsupported` says which runs
    it covers."""
    if not _enabled(mode) or fused_step_unsupported(model, objective, precision, compile) is not None:
        return None
    return FusedTrainingStep(model, objective, optimizer_step_for(optimizer, mode), grad_clip)  # type: ignore[arg-type]


def nll_chunk_for(
    model: torch.nn.Module, generic: Callable[..., torch.Tensor], mode: str = "auto"
) -> FusedBernoulliChunk | None:
    """Return the fused NLL chunk for ``model`` under ``"auto"`` where it applies (MLP decoder,
    N(0, I) prior, Bernoulli likelihood, on the CPU), else None: the caller then uses
    ``generic``, the plain chunk function, which the fused chunk also falls back to where its
    ``exp`` overflows. The chunk serves only batches its ``covers(x)`` accepts (binary data)."""
    if not _enabled(mode) or fused_chunk_unsupported(model) is not None:
        return None
    return FusedBernoulliChunk(model, generic)  # type: ignore[arg-type]
