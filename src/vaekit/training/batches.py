"""Where a training epoch's batches come from.

Two paths give the same batches in the same order (both follow the epoch's permutation):

- ``memory`` (the fast path): the whole training set is one tensor on the device; a batch is
  an index into it. No per-example Dataset calls, no collation, no host-to-device copies.
- ``streaming``: a ``torch.utils.data.Dataset`` read through a ``DataLoader`` (optionally with
  worker processes and pinned memory), one batch moved to the device at a time, for data that
  should not sit on the device whole (a large set on a small GPU).
- ``disk``: the training split stays in its file (``vaekit.data.disk``), each batch read from
  it (``DiskRows``), for data that do not fit in memory at all.

``read_rows`` reads the examples at any positions from any of the three.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


class DiskRows:
    """The training examples of a split left on disk (``--data-loading disk``): a ``RowView``
    (file rows, in the split's order), read a batch at a time, and moved to ``device``.

    Under the block shuffle (``blocks``) they are read through the file's ``BlockReader``,
    which keeps ``window`` whole blocks (a Parquet table's encoded row groups, stretches of a
    ``.npy`` file); otherwise row by row (a ``.npy`` file)."""

    def __init__(self, view: Any, device: torch.device, labelled: bool, window: int = 1, blocks: bool = False) -> None:
        self.view = view
        self.device = device
        self.labelled = labelled
        self.reader = view.source.block_reader(window) if blocks else view.source

    def __len__(self) -> int:
        return len(self.view)

    def read(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the examples (stored dtype, ``[len(index), D]``) and labels (only when
        ``labelled``) at training positions ``index``, on the CPU."""
        x, y = self.reader.read(self.view.file_rows(index))
        return x, (y if self.labelled else None)


TrainData = tuple[torch.Tensor, torch.Tensor | None] | ExamplesDataset | DiskRows


def read_rows(train_data: TrainData, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the training examples at positions ``index`` (int64 ``[B]``, positions in the
    training split, any order and any subset: a batch, or one rank's share of it) and their
    labels (None unless the training data carry labels: conditional models), from whatever
    holds the training data: the device-resident tensors of ``memory`` loading, the Dataset of
    ``streaming``, or the file of ``disk``.

    Examples come as stored: uint8 grey levels (convert with ``to_model_units``) or float32
    model units, ``[B, D]``; labels int64 ``[B]``. They are on the device that the training
    data live on for ``memory`` loading (``index`` is moved there), on the run's device for
    ``disk`` (read into CPU memory and moved), and on the CPU for a ``streaming`` Dataset."""
    if isinstance(train_data, DiskRows):
        x, y = train_data.read(index)
        device = train_data.device
        return x.to(device), (y.to(device) if y is not None else None)
    if isinstance(train_data, ExamplesDataset):
        index = index.cpu()
        return train_data.x[index], (train_data.y[index] if train_data.y is not None else None)
    x, y = train_data
    index = index.to(x.device)
    return torch.index_select(x, 0, index), (torch.index_select(y, 0, index) if y is not None else None)


def disk_batches(
    data: DiskRows, order: torch.Tensor, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x_batch, y_batch)`` read from disk in the order ``order`` (a CPU permutation of
    the training positions), on ``data.device``: the same batches, in the same order, as
    ``memory_batches`` over the same examples in memory.

    Read in the training thread, between steps: a reader thread reading ahead was slower on
    2 cores, the decoding holding the interpreter lock while the steps wait for it."""
    for start in range(0, len(order), batch_size):
        yield read_rows(data, order[start : start + batch_size])
