"""The step interface the training loop sees, and its plain implementation through autograd.

A training step is called once per batch as ``step(x, y, step_index)``: it runs the forward and
backward passes, clips the gradients and steps the optimizer, and returns the batch's detached
:class:`~vaekit.objectives.base.StepLoss`. Its ``name`` ("autograd", or "fused" for the one
:func:`vaekit.fast.training_step_for` gives) is logged with each epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from vaekit import objectives
from vaekit.objectives.base import StepLoss
from vaekit.training.optim import autocast_context


class TrainingStep(Protocol):
    """Forward, backward, clipping and optimizer step for one batch."""

    name: str

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> StepLoss: ...


class AutogradStep:
    """The reference training step: the objective's loss under autocast, ``backward()``,
    gradient clipping and the optimizer step.

    fp16 (CUDA only) scales the loss with a ``GradScaler`` so that its gradients do not
    underflow; for every other precision the scaler is disabled and each of its calls is the
    identity, so both run this one path. ``reduce_gradients`` (a distributed run's
:class:`~vaekit.training.distributed.GradientSum`) combines the ranks' gradients and loss
terms after the backward pass. ``optimizer_step`` replaces ``optimizer.step`` (e.g.
    :func:`vaekit.fast.optimizer_step_for`'s exact shortcut); under the scaler it runs on the
    unscaled gradients and is skipped where they overflowed, as ``GradScaler.step`` would.
    """

    name = "autograd"

    def __init__(
        self,
        model: torch.nn.Module,
        objective: Any,
        optimizer: torch.optim.Optimizer,
        *,
        device: torch.device,
        precision: str = "fp32",
        grad_clip: float | None = None,
        optimizer_step: Callable[[], Any] | None = None,
        reduce_gradients: Callable[[StepLoss], StepLoss] | None = None,
    ) -> None:
        autocast_context(precision, device)  # refuses a precision the device cannot run, now
        self.model, self.objective, self.optimizer = model, objective, optimizer
        self.device, self.precision, self.grad_clip = device, precision, grad_clip
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.optimizer_step = optimizer_step or optimizer.step
        self.reduce_gradients = reduce_gradients

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> StepLoss:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast_context(self.precision, self.device):
            terms = objectives.training_loss(self.objective, self.model, x, y, step)
        self.scaler.scale(terms.loss).backward()
        layers = None if terms.kl_layers is None else terms.kl_layers.detach()
        terms = StepLoss(terms.loss.detach(), terms.recon.detach(), terms.kl.detach(), layers)
        if self.reduce_gradients is not None:
            # Before clipping and the scaler's checks, which must see the whole batch's gradients.
            terms = self.reduce_gradients(terms)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        finite = True
        if self.scaler.is_enabled():
            # Unscaled here and stepped through optimizer_step, not scaler.step(): torch's
            # optimizer.step imports its compiler stack on first use, seconds of start-up.
            self.scaler.unscale_(self.optimizer)
            finite = gradients_finite(params)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        if finite:
            self.optimizer_step()  # a step whose scaled gradients overflowed is skipped, as scaler.step does
        self.scaler.update()
        return terms


def gradients_finite(params: list[torch.Tensor]) -> bool:
    """Return whether every gradient of ``params`` is finite (no inf or NaN), with one
    device-to-host read."""
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
