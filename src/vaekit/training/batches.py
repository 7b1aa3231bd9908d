"""Where a training epoch's batches come from.

Two paths give the same batches in the same order (both follow the epoch's permutation):

- ``memory`` (the fast path): the whole training set is one tensor on the device; a batch is
  an index into it. No per-example Dataset calls, no collation, no host-to-device copies.
- ``streaming``: a ``torch.utils.data.Dataset`` read through a ``DataLoader`` (optionally with
  worker processes and pinned memory), one batch moved to the device at a time, for data that
  should not sit on the device whole (a large set on a small GPU).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset


class ExamplesDataset(Dataset):
    """Examples ``[N, D]`` (and optional labels ``[N]``) served one at a time, as a classic Dataset."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # An empty label keeps the default collate happy for unlabelled data.
        return self.x[i], (self.y[i] if self.y is not None else torch.empty(0))


class _EpochOrderSampler:
    """Yields the index lists of one epoch's batches, in the order the permutation gives."""

    def __init__(self, order: torch.Tensor, batch_size: int) -> None:
        self.order, self.batch_size = order.tolist(), batch_size

    def __iter__(self) -> Iterator[list[int]]:
        for i in range(0, len(self.order), self.batch_size):
            yield self.order[i : i + self.batch_size]

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)


def memory_batches(
    x: torch.Tensor, y: torch.Tensor | None, order: torch.Tensor, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x_batch, y_batch)`` by indexing the device-resident ``x`` with slices of ``order``
    (a permutation on the same device)."""
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        yield torch.index_select(x, 0, index), (torch.index_select(y, 0, index) if y is not None else None)


def streaming_batches(
    dataset: Dataset,
    order: torch.Tensor,
    batch_size: int,
    device: torch.device,
    num_workers: int = 0,
    labelled: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x_batch, y_batch)`` on ``device`` from a DataLoader over ``dataset`` whose batches
    follow ``order`` (a CPU permutation), so both paths see identical batches."""
    loader = DataLoader(
        dataset,
        batch_sampler=_EpochOrderSampler(order.cpu(), batch_size),
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        # Its own generator: otherwise each epoch's iterator draws a seed from the global RNG,
        # which also draws the reparameterisation noise, and the two paths would diverge.
        generator=torch.Generator().manual_seed(0),
    )
    non_blocking = device.type == "cuda"
    for xb, yb in loader:
        yield xb.to(device, non_blocking=non_blocking), (yb.to(device, non_blocking=non_blocking) if labelled else None)
