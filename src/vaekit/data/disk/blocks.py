"""Blocks of a file's rows (a Parquet file's row groups) and the block shuffle of an epoch.

A full shuffle visits the training rows in a uniformly random order: cheap when any row can be
read at once (a tensor in memory, a memory-mapped ``.npy``), ruinous when rows come in row
groups that must be decoded whole (Parquet: one row group decoded per row). The block shuffle
keeps the reads local: the row groups are visited in a seeded random order, ``window`` of them
at a time, and the training rows of one window are visited in a random order among themselves.
So an epoch decodes each row group once and holds ``window`` of them.

Both are drawn from the same thing, the epoch's permutation of the training rows
(``torch.randperm(n, generator)`` of the training loop, int32 or int64): the block order is a function of that
permutation and the layout (which block each training row lies in), so it depends only on
(seed, epoch, layout) and a resumed run replays it, whether the rows are read from memory or
from disk.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaekit.runtime.errors import DataError

#: values per block of a converted CSV (and of other data shuffled by blocks): 2 Mi values,
#: 8 MiB of float32 before a table's one-hot columns widen it
BLOCK_VALUES = 1 << 21
#: rows per block never fall outside these bounds, whatever the width
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 1024, 65536
#: permutation entries processed at a time while ordering an epoch (bounds the work arrays)
ORDER_CHUNK = 1 << 18


def block_rows_for(n_columns: int) -> int:
    """Return the rows per block of data with ``n_columns`` columns (a count of rows): the
    power of two nearest below ``BLOCK_VALUES / n_columns``, within [1024, 65536]. A CSV/TSV
    file converted to Parquet gets row groups of this many rows, and data without row groups
    of their own (``.npy``, a CSV read into memory) are cut into blocks of this many rows."""
    rows = 1 << max(0, int(np.floor(np.log2(max(1, BLOCK_VALUES // max(1, n_columns))))))
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


@dataclass(frozen=True)
class BlockLayout:
    """The blocks of a file's rows: block ``g`` holds rows ``starts[g] .. starts[g + 1] - 1``."""

    #: int64 ``[blocks + 1]``: the first row of each block, then the number of rows
    starts: np.ndarray

    @classmethod
    def from_sizes(cls, sizes: list[int] | np.ndarray) -> BlockLayout:
        """Return the layout of consecutive blocks of ``sizes`` rows (a Parquet file's row groups)."""
        return cls(np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64))

    @classmethod
    def fixed(cls, n_rows: int, block_rows: int) -> BlockLayout:
        """Return the layout of ``n_rows`` rows cut into blocks of ``block_rows`` (the last shorter)."""
        full, rest = divmod(n_rows, block_rows)
        return cls.from_sizes([block_rows] * full + ([rest] if rest else []))

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return len(self.starts) - 1

    @property
    def n_rows(self) -> int:
        """Number of rows in all blocks."""
        return int(self.starts[-1])

    @property
    def sizes(self) -> np.ndarray:
        """Rows of each block (int64 ``[blocks]``)."""
        return np.diff(self.starts)

    def block_of(self, rows: np.ndarray) -> np.ndarray:
        """Return the block (int64) of each of the file rows ``rows``."""
        return np.searchsorted(self.starts, rows, side="right") - 1

    def digest(self) -> str:
        """Return a SHA-256 (hex) of the block sizes: equal digests, equal layouts."""
        return hashlib.sha256(self.sizes.astype("<i8").tobytes()).hexdigest()


class BlockShuffle:
    """The block shuffle of one training split: the file row of each training row, the file's
    blocks, and how many blocks make a window.

    ``file_rows`` (``[n]``, any integer dtype) gives the file row of training row ``i`` (row
    ``i`` of the split, not of the file); for a split left on disk it is the split's own array
    of rows, shared, not copied: the block of a row is looked up in the layout when an epoch is
    ordered rather than kept for every row."""

    def __init__(self, file_rows: np.ndarray, layout: BlockLayout, window: int) -> None:
        if window < 1:
            raise DataError(f"a shuffle window holds at least one block, got {window}")
        self.file_rows = file_rows
        self.layout = layout
        self.n_blocks = layout.n_blocks
        self.window = int(window)

    @classmethod
    def of_rows(cls, file_rows: torch.Tensor | np.ndarray, layout: BlockLayout, window: int) -> BlockShuffle:
        """Return the block shuffle of the training rows whose file rows are ``file_rows``
        (in the split's order)."""
        rows = file_rows.numpy() if isinstance(file_rows, torch.Tensor) else np.asarray(file_rows)
        return cls(rows, layout, window)

    def __len__(self) -> int:
        return len(self.file_rows)

    def blocks_of(self, positions: torch.Tensor | slice) -> torch.Tensor:
        """Return the block (int64) of each training row ``positions`` (indices or a slice)."""
        key = positions.numpy() if isinstance(positions, torch.Tensor) else positions
        return torch.from_numpy(self.layout.block_of(self.file_rows[key]))

    def window_of_block(self, permutation: torch.Tensor) -> torch.Tensor:
        """Return each block's window (int64 ``[blocks]``) in the epoch of ``permutation``.

        The blocks' order is read off the permutation: the values below the number of blocks
        appear in it in a uniformly random order, which is taken as the blocks' order (blocks
        beyond the number of training rows, if any, follow in file order)."""
        g = self.n_blocks
        tokens = permutation[permutation < g]
        rank = torch.empty(g, dtype=torch.int64)
        rank[tokens] = torch.arange(len(tokens))
        if len(tokens) < g:
            rest = torch.ones(g, dtype=torch.bool)
            rest[tokens] = False
            rank[rest] = torch.arange(len(tokens), g)
        return rank // self.window

    def order(self, permutation: torch.Tensor) -> torch.Tensor:
        """Return the epoch's block order (``[n]``, a permutation of the training rows; int32
        while ``n`` allows, as half the memory of int64)
        drawn from the epoch's full permutation ``permutation`` (int32 or int64 ``[n]``): the windows in
        turn, and within a window its rows in the order ``permutation`` gives them.

        Computed as a stable counting sort of ``permutation`` by window, ``ORDER_CHUNK``
        entries at a time: besides the result, the work arrays hold one chunk."""
        n = len(permutation)
        if n != len(self):
            raise DataError(f"an epoch's permutation of {n} rows does not fit a split of {len(self)} training rows")
        window = self.window_of_block(permutation)
        windows = int(window.max()) + 1 if len(window) else 0
        counts = torch.zeros(windows, dtype=torch.int64)
        for start in range(0, n, ORDER_CHUNK):
            keys = window[self.blocks_of(slice(start, start + ORDER_CHUNK))]
            counts += torch.bincount(keys, minlength=windows)
        offsets = torch.cumsum(counts, 0) - counts
        out = torch.empty(n, dtype=torch.int32 if n <= torch.iinfo(torch.int32).max else torch.int64)
        for start in range(0, n, ORDER_CHUNK):
            chunk = permutation[start : start + ORDER_CHUNK]
            keys = window[self.blocks_of(chunk)]
            keys, by_key = torch.sort(keys, stable=True)
            values, counts_here = torch.unique_consecutive(keys, return_counts=True)
            first = torch.cumsum(counts_here, 0) - counts_here
            within = torch.arange(len(chunk)) - torch.repeat_interleave(first, counts_here)
            out[offsets[keys] + within] = chunk[by_key].to(out.dtype)
            offsets[values] += counts_here
        return out


class BlockReader:
    """Training reads by blocks: each block needed (a Parquet row group, decoded and encoded; a
    stretch of a ``.npy`` file, read in one call) is loaded whole by ``table.load_block`` and
    kept, ``capacity`` at a time (least recently used out first), in one buffer of ``capacity``
    slots, so that a batch is one gather from it. A batch's blocks are loaded in the order its
    rows first name them: under the block shuffle a batch that starts the next window names the
    old window's blocks first, and they are evicted only once used.

    ``table`` has ``layout`` (a ``BlockLayout``), ``width``, ``dtype``, ``labelled`` and
    ``load_block(block) -> (x, y)``."""

    def __init__(self, table: Any, capacity: int) -> None:
        self.table = table
        self.capacity = max(1, min(int(capacity), table.layout.n_blocks))
        self.slot_rows = int(table.layout.sizes.max())
        self._x = torch.empty(self.capacity * self.slot_rows, table.width, dtype=table.dtype)
        self._y = torch.empty(self.capacity * self.slot_rows, dtype=torch.int64) if table.labelled else None
        #: row group -> slot, least recently used first
        self._slots: OrderedDict[int, int] = OrderedDict()
        #: blocks loaded so far (a read count, for tests and benchmarks)
        self.loads = 0

    def _slot(self, group: int, pinned: set[int]) -> int:
        """Return the slot holding ``group``, loading it (into the least recently used slot
        that the current batch does not need) if it is not held."""
        slot = self._slots.get(group)
        if slot is not None:
            self._slots.move_to_end(group)
            return slot
        if len(self._slots) < self.capacity:
            slot = len(self._slots)
        else:
            victim = next(g for g in self._slots if g not in pinned)
            slot = self._slots.pop(victim)
        gx, gy = self.table.load_block(group)
        start = slot * self.slot_rows
        self._x[start : start + len(gx)] = gx
        if self._y is not None and gy is not None:
            self._y[start : start + len(gy)] = gy
        self.loads += 1
        self._slots[group] = slot
        return slot

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the encoded examples (float32 ``[len(rows), width]``) and labels of the file
        rows ``rows``, in their order: one gather from the held row groups, or (a batch that
        needs more row groups than slots, at a window's edge) one gather per slotful."""
        rows = np.asarray(rows, dtype=np.int64)
        layout = self.table.layout
        groups = layout.block_of(rows)
        unique, first = np.unique(groups, return_index=True)
        offset = np.zeros(layout.n_blocks, dtype=np.int64)
        parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        pinned: set[int] = set()
        for group in unique[np.argsort(first)].tolist():
            if group not in self._slots and len(pinned) >= self.capacity:
                parts.append(self._gather(rows, groups, offset, pinned))
                pinned = set()
            pinned.add(group)
            offset[group] = self._slot(group, pinned) * self.slot_rows - layout.starts[group]
        if not parts:
            where = torch.from_numpy(rows + offset[groups])
            return self._x.index_select(0, where), (self._y.index_select(0, where) if self._y is not None else None)
        parts.append(self._gather(rows, groups, offset, pinned))
        x = torch.empty(len(rows), self.table.width, dtype=self._x.dtype)
        y = torch.empty(len(rows), dtype=torch.int64) if self._y is not None else None
        for index, px, py in parts:
            x[index] = px
            if y is not None:
                y[index] = py
        return x, y

    def _gather(
        self, rows: np.ndarray, groups: np.ndarray, offset: np.ndarray, held: set[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return the positions in the batch of the rows of the row groups ``held``, and those
        rows (examples and labels) gathered from their slots."""
        mask = np.isin(groups, list(held))
        where = torch.from_numpy(rows[mask] + offset[groups[mask]])
        y = self._y.index_select(0, where) if self._y is not None else None
        return torch.from_numpy(np.flatnonzero(mask)), self._x.index_select(0, where), y
