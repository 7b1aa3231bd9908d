"""Optional fast paths, each exact against the plain path and chosen here, in one place.

One setting, ``mode``, chooses them (a run's ``train.fast``): ``"auto"`` takes every fast path
that applies, ``"off"`` the plain reference path (autograd, ``optimizer.step()``, the generic
NLL chunk, subnormals kept). Nothing outside this package knows how a fast path works: the
training loop asks for a training step and an optimizer step, evaluation asks for an NLL chunk,
and each gets ``None`` (or the plain callable) where no fast path applies. Private torch kernels
are called only behind :func:`~vaekit.fast.kernels.private_kernels_available`.

Two inexact choices live here too, because only the fused step has them, each picked by the
user and never taken by ``"auto"`` on its own: ``train.precision bf16-grad`` (see
:func:`bf16_grad_unsupported`), a precision chosen as autocast would be, and
``train.min_backward_weight`` (see :func:`min_backward_weight_unsupported`), which runs the
backward pass of IWAE draws of negligible importance weight only by Russian roulette.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch

from vaekit.config import FAST_MODES
from vaekit.fast.adam import DirectAdamStep
from vaekit.fast.denormals import flushing_denormals
from vaekit.fast.dense_passes import GRAD_DTYPES
from vaekit.fast.fused_chunk import FusedBernoulliChunk, fused_chunk_unsupported
from vaekit.fast.fused_step import FusedTrainingStep, fused_step_unsupported
from vaekit.fast.malloc import keep_freed_memory
from vaekit.objectives.iwae import IWAEObjective

__all__ = [
    "MODES",
    "DirectAdamStep",
    "FusedBernoulliChunk",
    "FusedTrainingStep",
    "bf16_grad_unsupported",
    "bf16_matmul_native",
    "denormals_flushed",
    "fused_adam",
    "memory_kept",
    "min_backward_weight_unsupported",
    "nll_chunk_for",
    "optimizer_step_for",
    "training_step_for",
]

#: "auto": every exact fast path that applies; "off": the plain reference path.
MODES = FAST_MODES


def _enabled(mode: str) -> bool:
    if mode not in MODES:
        from vaekit.runtime.errors import ConfigError

        raise ConfigError(f"fast must be one of {', '.join(MODES)}, got {mode!r}")
    return mode == "auto"


def denormals_flushed(mode: str) -> AbstractContextManager[bool]:
    """Return the context in which training runs: float32 subnormals flushed to zero on the CPU
    under ``"auto"`` (see :mod:`vaekit.fast.denormals`), kept under ``"off"``."""
    return flushing_denormals(_enabled(mode))


def memory_kept(mode: str, device: torch.device) -> bool:
    """Under ``"auto"`` on a CPU, keep freed memory in glibc's heap for reuse from now on (once
    per process, see :mod:`vaekit.fast.malloc`); return whether it is kept."""
    return _enabled(mode) and device.type == "cpu" and keep_freed_memory()


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


def bf16_matmul_native(device: torch.device) -> bool:
    """Return whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU with
    bfloat16, or a CPU with AVX512-BF16 or AMX (elsewhere oneDNN emulates it, slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return any(check() for check in checks if check is not None)


def bf16_grad_unsupported(
    model: torch.nn.Module, objective: Any, device: torch.device, mode: str = "auto", compile: bool = False
) -> str | None:
    """Return why ``train.precision bf16-grad`` cannot train this run, or None when it can.

    bf16-grad is the fused step with its backward's matmuls on bfloat16 factors (float32
    accumulation; the forward pass, the loss and the weights stay float32), so it needs the
    fused step and a device that multiplies bfloat16 in hardware."""
    if not _enabled(mode):
        return "--fast off trains through autograd, and only the fused step has bf16-grad"
    reason = fused_step_unsupported(model, objective, "bf16-grad", compile)
    if reason is not None:
        return f"the fused step cannot train this run ({reason})"
    if not bf16_matmul_native(device):
        return (f"this {device.type} has no bfloat16 matmul instructions torch reports (AVX512-BF16 or AMX on a "
                "CPU), so the bfloat16 matmuls would be slower than float32")  # fmt: skip
    return None


def min_backward_weight_unsupported(
    model: torch.nn.Module, objective: Any, mode: str = "auto", precision: str = "fp32", compile: bool = False
) -> str | None:
    """Return why ``train.min_backward_weight`` (above 0) cannot train this run, or None when it can.

    Only the IWAE bound weighs its draws unequally, and only the fused step runs a backward
    pass per draw that it can skip, so it needs both."""
    if type(objective) is not IWAEObjective:
        return (f"it skips the backward of IWAE draws of negligible importance weight, and this run's objective "
                f"is {type(objective).__name__}, whose draws all weigh the same")  # fmt: skip
    if not _enabled(mode):
        return "--fast off trains through autograd, and only the fused step leaves draws out of its backward"
    reason = fused_step_unsupported(model, objective, precision, compile)
    if reason is not None:
        return f"the fused step cannot train this run ({reason})"
    return None


def training_step_for(
    model: torch.nn.Module,
    objective: Any,
    optimizer: torch.optim.Optimizer,
    *,
    mode: str = "auto",
    grad_clip: float | None = None,
    precision: str = "fp32",
    compile: bool = False,
    min_backward_weight: float = 0.0,
    seed: int = 0,
) -> FusedTrainingStep | None:
    """Return the fused training step (same gradients as autograd, no graph; then clipping and
    the optimizer step) for a run it covers under ``"auto"``, else None: the caller then trains
    through autograd. :func:`~vaekit.fast.fused_step.fused_step_unsupported` says which runs
    it covers; ``precision`` ``bf16-grad`` makes its backward's matmuls read bfloat16, and
    IWAE draws whose normalised weight is below ``min_backward_weight`` play Russian roulette for
    their backward pass, with uniforms seeded by the run's ``seed`` and the step."""
    if not _enabled(mode) or fused_step_unsupported(model, objective, precision, compile) is not None:
        return None
    step = optimizer_step_for(optimizer, mode)
    return FusedTrainingStep(
        model,  # type: ignore[arg-type]
        objective,
        step,
        grad_clip,
        grad_dtype=GRAD_DTYPES[precision],
        min_backward_weight=min_backward_weight,
        roulette_seed=seed,
    )


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
