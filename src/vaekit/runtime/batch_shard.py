"""Noise that does not depend on how a batch is split across processes.

In a distributed run each rank holds rows ``[start, stop)`` of the global batch. For N ranks
with global batch B to train as one process with batch B does, each rank must see the very
noise that one process would give those rows: it draws the whole batch's noise from the same
seeded stream and keeps its rows. :func:`rows_of_batch` says which rows this process holds
while a step (or a validation batch) runs; :func:`standard_normal` is the draw every
reparameterisation uses. Outside such a context, a draw is the plain ``torch.randn``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

# (rows of the global batch, start, stop) of the batch this process is working on, or None.
_rows: tuple[int, int, int] | None = None


@contextlib.contextmanager
def rows_of_batch(total: int, start: int, stop: int) -> Iterator[None]:
    """Within the body, this process holds rows ``[start, stop)`` of a batch of ``total``
    rows: draws of :func:`standard_normal` whose batch dimension has ``stop - start`` rows are
    the matching rows of one draw for all ``total``."""
    global _rows
    if not 0 <= start <= stop <= total:
        raise ValueError(f"rows [{start}, {stop}) are not within a batch of {total}")
    previous, _rows = _rows, (total, start, stop)
    try:
        yield
    finally:
        _rows = previous


def standard_normal(shape: tuple[int, ...] | torch.Size, like: torch.Tensor) -> torch.Tensor:
    """Return N(0, 1) noise of ``shape`` with ``like``'s dtype and device, drawn from torch's
    default generator. ``shape[-2]`` is the batch dimension (``[B, L]`` or ``[K, B, L]``):
    inside :func:`rows_of_batch` the draw is made for the whole batch and this process's rows
    are returned, so the default generator advances as it would in one process."""
    shape = tuple(shape)
    share = whole_batch(shape, len(shape) - 2) if len(shape) >= 2 else None
    if share is not None:
        full, rows = share
        return torch.randn(full, dtype=like.dtype, device=like.device)[..., rows, :]
    return torch.randn(shape, dtype=like.dtype, device=like.device)


def whole_batch(shape: tuple[int, ...], dim: int) -> tuple[tuple[int, ...], slice] | None:
    """Return ``(the whole batch's shape, this process's rows along dim)`` for a draw of
    ``shape`` whose dimension ``dim`` is this process's share of the batch (inside
    :func:`rows_of_batch`), or None when the draw is already the whole batch's."""
    if _rows is None:
        return None
    total, start, stop = _rows
    if shape[dim] != stop - start or total == stop - start:
        return None
    return (*shape[:dim], total, *shape[dim + 1 :]), slice(start, stop)


def current_rows() -> tuple[int, int, int] | None:
    """Return ``(total, start, stop)`` of the batch this process is working on (see
    :func:`rows_of_batch`), or None outside one."""
    return _rows
