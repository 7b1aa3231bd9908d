"""Adam's step without ``Adam.step``'s per-step Python: the same kernels on the same state."""

from __future__ import annotations

import types

import torch
from torch.optim.adam import adam as functional_adam

from vaekit.fast import kernels

try:  # the check Adam makes before it starts a fused state
    from torch.optim.optimizer import _device_dtype_check_for_fused
except ImportError:  # pragma: no cover - older torch

    def _device_dtype_check_for_fused(p: torch.Tensor, cuda_unsupported: bool = False) -> None:
        return None


try:  # the dtype Adam gives its step counters
    from torch.optim.optimizer import _get_scalar_dtype as _scalar_dtype
except ImportError:  # pragma: no cover - older torch

    def _scalar_dtype(is_fused: bool | None = None) -> torch.dtype:
        return torch.float32 if is_fused else torch.get_default_dtype()

_UNWRAPPED_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def without_compiler_wrappers(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Return ``optimizer`` with its bookkeeping methods bound without the
    ``torch._disable_dynamo`` wrappers torch puts on them (same code underneath).

    Those wrappers import torch's compiler stack on their first call, which costs more than a
    whole fit on a small table; they only matter inside ``torch.compile``, which never traces
    vaekit's optimizer."""
    for name in _UNWRAPPED_METHODS:
        method = getattr(type(optimizer), name, None)
        inner = getattr(method, "__wrapped__", None)
        if inner is not None:
            setattr(optimizer, name, types.MethodType(inner, optimizer))
    return optimizer


def _usable_state(param: torch.Tensor, state: dict | None) -> bool:
    """Return whether ``state`` is Adam's full state for ``param`` as ``Adam.step`` would use it
    without starting it: tensors ``exp_avg`` and ``exp_avg_sq`` of the parameter's shape and a
    one-element ``step``, next to a dense gradient."""
    if not state or param.grad is None or param.grad.is_sparse:
        return False
    tensors = [state.get(key) for key in ("exp_avg", "exp_avg_sq", "step")]
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        return False
    exp_avg, exp_avg_sq, step = tensors
    return exp_avg.shape == param.shape and exp_avg_sq.shape == param.shape and step.numel() == 1


class DirectAdamStep:
    """``optimizer.step()`` for a plain Adam with one parameter group: the same kernels on the
    same state tensors (bit-identical results), with the state's lists built once instead of
    every step. Calling it does one step.

    ``Adam.step`` rebuilds its lists and checks its state in Python every step, which on a small
    model costs about as much as the update itself. With the fused kernel on one device and
    dtype, this calls the kernel (``torch._fused_adam_``) itself and counts the step with one
    ``add_`` on a tensor whose elements are the parameters' step counts (each
    ``state["step"]`` becomes a 0-d view into it); otherwise, or where this torch lacks the
    kernel (:func:`~vaekit.fast.kernels.private_kernels_available`), it calls the public
    functional ``torch.optim.adam.adam``. On the first step it starts Adam's zero state itself
    where the fused kernel can take it; state that is already there (loaded by
    ``load_state_dict``, as on resume, or replaced by it since the last step) it adopts as
    ``Adam.step`` would use it. Where neither applies (a parameter without state or gradient, an
    Adam variant with more state) it calls ``optimizer.step()``, so it is always safe to use in
    its place.
    """

    def __init__(self, optimizer: torch.optim.Adam) -> None:
        self.optimizer = optimizer
        self._state: tuple[list[torch.Tensor], ...] | None = None
        self._direct_fused = False
        self._step_counts: torch.Tensor | None = None

    def _state_lists(self) -> tuple[list[torch.Tensor], ...] | None:
        """Return (params, exp_avgs, exp_avg_sqs, steps) when every parameter has Adam state
        that the functional call can use as is, else None."""
        groups = self.optimizer.param_groups
        group = groups[0]
        if len(groups) != 1 or group["amsgrad"] or group["differentiable"] or group["capturable"]:
            return None
        if group.get("decoupled_weight_decay", False) or any(torch.is_complex(p) for p in group["params"]):
            return None
        params = [p for p in group["params"] if p.grad is not None]
        states = [self.optimizer.state.get(p) for p in params]
        if not params or len(params) != len(group["params"]) or not all(map(_usable_state, params, states)):
            return None
        lists = params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [s["step"] for s in states]
        # The fused kernel takes one device and dtype per call (the functional form groups them).
        kinds = {(t.device, t.dtype) for t in (*lists[0], *lists[1], *lists[2])}
        kinds_of_steps = {(t.device, t.dtype, t.dim()) for t in lists[3]}
        self._direct_fused = kernels.private_kernels_available() and len(kinds) == 1 and len(kinds_of_steps) == 1
        self._step_counts = None
        if self._direct_fused and lists[3][0].dim() == 0:
            # One add_ then counts a step for every parameter. They stay separate counters:
            # Adam.step, which may still run, counts each on its own.
            self._step_counts = torch.stack([t.detach() for t in lists[3]])
            for i, state in enumerate(states):
                state["step"] = self._step_counts[i]
            lists = (*lists[:3], [state["step"] for state in states])
        return lists

    def _start_state(self) -> bool:
        """Create Adam's zero state, as its first ``step`` would, where the first step can then
        go straight to the fused kernel; return whether it did.

        ``Adam.step`` imports torch's compiler stack on its first call, which takes longer than
        a whole fit on a small table; the fused kernel does not need it."""
        optimizer = self.optimizer
        groups = optimizer.param_groups
        if len(groups) != 1 or not groups[0]["fused"] or optimizer.state or not kernels.private_kernels_available():
            return False
        group = groups[0]
        if group["amsgrad"] or group["capturable"] or group["differentiable"]:
            return False  # Adam.step keeps other state for these
        params = group["params"]
        if any(p.grad is None or p.grad.is_sparse for p in params):
            return False
        for p in params:
            _device_dtype_check_for_fused(p)
        for p in params:
            optimizer.state[p] = {
                "step": torch.zeros((), dtype=_scalar_dtype(is_fused=True), device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return True

    def _current_lists(self) -> tuple[list[torch.Tensor], ...] | None:
        """Return the state lists this step can use directly: the ones built last time while
        they are still the optimizer's, else lists over the state it has now (starting Adam's
        zero state on the first step where it can); None where only ``optimizer.step()`` can
        take this step."""
        optimizer, state = self.optimizer, self._state
        if state is not None and len(optimizer.param_groups) == 1:  # an added group: Adam.step updates every group
            current = optimizer.state.get(state[0][0])
            if current is not None and current.get("exp_avg") is state[1][0]:
                return state
        # Loaded or replaced state is adopted as is rather than left to Adam.step, whose first
        # call imports torch's compiler stack (the first epoch after a resume paid for it).
        self._state = self._state_lists() if optimizer.state or self._start_state() else None
        return self._state

    def __call__(self) -> None:
        optimizer = self.optimizer
        state = self._current_lists()
        if state is None:
            optimizer.step()
            self._state = self._state_lists()
            return
        params, exp_avgs, exp_avg_sqs, steps = state
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            optimizer.step()  # Adam skips parameters without a gradient; the functional form cannot
            return
        group = optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        scalars = (group["lr"], beta1, beta2)
        if self._direct_fused and group["fused"] and not any(isinstance(v, torch.Tensor) for v in scalars):
            with torch.no_grad():
                if self._step_counts is not None:
                    self._step_counts.add_(1)
                else:
                    torch._foreach_add_(steps, 1)
                torch._fused_adam_(
                    params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
                    beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                    grad_scale=None, found_inf=None,
                )  # fmt: skip
            return
        with torch.no_grad():  # as Adam.step: the updates are in place on leaves that require grad
            functional_adam(
                params, grads, exp_avgs, exp_avg_sqs, [], steps,
                foreach=group["foreach"], fused=group["fused"], grad_scale=None, found_inf=None,
                amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                eps=group["eps"], maximize=group["maximize"],
            )  # fmt: skip
