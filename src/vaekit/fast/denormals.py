"""Flushing subnormal floats to zero while training on a CPU.

Adam's moment estimates of weights whose gradient is exactly zero (for MNIST, the first layer's
weights of pixels that are black in every image of a batch) decay by beta each step and spend
about a hundred steps in the subnormal range (below 1.2e-38 in float32) on their way to zero.
x86 arithmetic on subnormals is far slower than on normal numbers, so many such values slow
every step; flushing them to zero changes no value a model can represent usefully.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: A float32 subnormal: flushed to zero when flush-to-zero / denormals-are-zero is on.
_SUBNORMAL = 1e-39


def flush_denormal_enabled() -> bool:
    """Return whether this thread flushes float32 subnormals to zero (read by one tiny op)."""
    return torch.tensor([_SUBNORMAL], dtype=torch.float32).mul(1.0).item() == 0.0


@contextmanager
def flushing_denormals(enabled: bool = True) -> Iterator[bool]:
    """Within the block, flush float32 subnormals to zero on the CPU (if ``enabled`` and the CPU
    supports it); afterwards the calling thread's previous setting is restored. Threads that
    torch's CPU thread pool starts inside the block inherit the setting and keep it. Yields
    whether flushing is on inside the block."""
    was_on = flush_denormal_enabled()
    turned_on = enabled and not was_on and torch.set_flush_denormal(True)
    try:
        yield was_on or turned_on
    finally:
        if turned_on:
            torch.set_flush_denormal(False)
