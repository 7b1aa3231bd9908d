"""A ``.npy`` file read by rows: memory-mapped for its layout and for the check of its values
(front to back), read row by row at random for training and evaluation batches.

The map (``np.load(path, mmap_mode="r")``) gives the array's shape, dtype and place in the
file, and lets the one pass that checks every value read the file front to back. Every page of
a mapped file that is read counts in the process's resident memory until it is unmapped, so that
pass hands the pages back to the kernel (``madvise(MADV_DONTNEED)``; they stay in the page cache)
every ``RELEASE_BYTES``.

Rows drawn at random are not read through the map: a fault on one page maps the pages around
it as well (64 KiB of them, and whole large folios of the page cache on recent kernels), so
random batches grow the resident set by far more than their rows, even with the pages handed
back after every batch. Each row (each run of consecutive rows) is read with ``os.preadv`` into
the batch's own memory instead: the resident set grows by the batch only, and a batch is read
faster than a gather through the map.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

import numpy as np
import torch

from vaekit.data.arrays import CHANNELS
from vaekit.data.disk.blocks import BlockLayout, BlockReader, block_rows_for
from vaekit.data.validate import array_position, as_features, infer_value_range
from vaekit.runtime.errors import DataError

#: bytes read through the map between two hand-backs of its pages
RELEASE_BYTES = 32 << 20
#: bytes of the file checked at a time by the scan of its values
SCAN_BYTES = 32 << 20
#: blocks of the file (and their size) that the fingerprint hashes, besides its size and header
FINGERPRINT_BLOCKS, FINGERPRINT_BLOCK_BYTES = 64, 64 << 10


class NpyRows:
    """The rows of a ``.npy`` file as examples: ``[N, D]`` for a 2-D array, images
    ``[N, C*H*W]`` for a 3-D/4-D stack (as ``vaekit.data.arrays`` reads them, ``[N, H, W, C]``
    moved to channels first). uint8 image stacks stay uint8 grey levels (256 of them);
    everything else becomes float32 as it is read.

    Rows are read one by one (``read``), or under the block shuffle a block of
    ``block_rows_for(D)`` consecutive rows at a time (``block_reader``): one sequential read per
    block, which a file that no longer fits in the page cache needs (a row read at random from
    disk is a seek)."""

    #: rows can be read one by one at no extra cost (a Parquet file's cannot)
    reads_by_blocks = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        source = str(self.path)
        try:
            self.array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{source}: cannot be read as a .npy array ({exc}); save a numeric array with numpy.save") from None
        if not isinstance(self.array, np.memmap):
            raise DataError(f"{source}: cannot be memory-mapped (an empty or object array?); save a numeric array with numpy.save")
        if self.array.dtype.kind not in "biuf":
            raise DataError(f"{source}: values must be numbers, got dtype {self.array.dtype}; convert the data to integers or floats")
        if self.array.ndim > 1 and not self.array.flags.c_contiguous:
            raise DataError(
                f"{source}: a Fortran-ordered array cannot be read row by row; save it with "
                "numpy.save(path, np.ascontiguousarray(x))"
            )
        x = self.array
        shape = x.shape
        self.channels_last = False
        if x.ndim == 2:
            self.kind, self.shape, self.levels = "table", (shape[1],), None
        elif x.ndim in (3, 4):
            self.kind = "image"
            if x.ndim == 3:
                self.shape = (1, shape[1], shape[2])
            elif shape[1] not in CHANNELS and shape[3] in CHANNELS:
                self.channels_last, self.shape = True, (shape[3], shape[1], shape[2])
            elif shape[1] in CHANNELS:
                self.shape = tuple(shape[1:])
            else:
                raise DataError(
                    f"{source}: a 4-D array is read as images [N, C, H, W] (or [N, H, W, C]) with "
                    f"C = 1 or 3 channels, got shape {shape}"
                )
            self.levels = 256 if x.dtype == np.uint8 else None
        else:
            hint = " (a single feature? use x.reshape(-1, 1))" if x.ndim == 1 else ""
            raise DataError(
                f"{source}: expected a 2-D array [examples, features] or images [N, H, W] / "
                f"[N, C, H, W], got {x.ndim}-D shape {shape}{hint}"
            )
        self.n_rows = int(shape[0])
        self.width = int(np.prod(self.shape))
        if self.n_rows == 0 or self.width == 0:
            raise DataError(f"{source}: no data (shape {shape}); need at least one row and one column")
        self.dtype = torch.uint8 if self.levels is not None else torch.float32
        self.labelled = False
        self._row_bytes = self.width * x.dtype.itemsize
        self._since_release = 0
        self._offset = int(x.offset)
        self._fd: int | None = None
        self.layout = BlockLayout.fixed(self.n_rows, block_rows_for(self.width))

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __getstate__(self) -> dict:
        # A DataLoader worker or a copy opens its own descriptor.
        return {**self.__dict__, "_fd": None}

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, None]:
        """Return the examples at file rows ``rows`` (int, any order, repeats allowed),
        ``[len(rows), D]`` in the stored dtype (uint8 grey levels or float32), and no labels.
        One ``preadv`` per run of rows consecutive in the file and in ``rows``, into fresh memory
        (see the module)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"{self.path}: rows must lie in 0..{self.n_rows - 1}")
        raw = np.empty((len(rows), *self.array.shape[1:]), dtype=self.array.dtype)
        if not len(rows):
            return torch.from_numpy(self._as_examples(raw)), None
        buffer = memoryview(raw.reshape(-1)).cast("B")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        # Rows go straight to their places in the batch, a run of rows that follow each other in
        # the file (an evaluation's, a block's) in one call; sorting first and gathering back
        # afterwards cost more than the reads of a random batch.
        cuts = np.flatnonzero(np.diff(rows) != 1) + 1
        starts, stops = np.r_[0, cuts], np.r_[cuts, len(rows)]
        size, fd, preadv = self._row_bytes, self._fd, os.preadv
        # Plain ints in the loop: it runs once per row read at random.
        lows, highs = (starts * size).tolist(), (stops * size).tolist()
        places = (self._offset + rows[starts] * size).tolist()
        for low, high, place in zip(lows, highs, places, strict=True):
            if preadv(fd, [buffer[low:high]], place) != high - low:
                raise DataError(f"{self.path}: the file is shorter than its header says; save it again")
        return torch.from_numpy(self._as_examples(raw)), None

    def load_block(self, block: int) -> tuple[torch.Tensor, None]:
        """Return the rows of block ``block`` of ``layout`` (one read), in the stored dtype."""
        start, stop = int(self.layout.starts[block]), int(self.layout.starts[block + 1])
        return self._read_run(start, stop), None

    def block_reader(self, capacity: int) -> BlockReader:
        """Return a reader of training batches that reads whole blocks and keeps ``capacity``
        of them (the shuffle window)."""
        return BlockReader(self, capacity)

    def _read_run(self, start: int, stop: int) -> torch.Tensor:
        """Return the consecutive rows ``start .. stop - 1`` as examples, read in one call."""
        raw = np.empty((stop - start, *self.array.shape[1:]), dtype=self.array.dtype)
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        want = raw.nbytes
        if want and os.preadv(self._fd, [memoryview(raw.reshape(-1)).cast("B")], self._offset + start * self._row_bytes) != want:
            raise DataError(f"{self.path}: the file is shorter than its header says; save it again")
        return torch.from_numpy(self._as_examples(raw))

    def _as_examples(self, block: np.ndarray) -> np.ndarray:
        """Return rows as read from the file as examples ``[k, D]`` in the stored dtype."""
        if self.channels_last:
            block = np.moveaxis(block, 3, 1)
        block = block.reshape(len(block), self.width)
        if self.levels is not None:
            return np.ascontiguousarray(block)
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(block, dtype=np.float32)

    def _count(self, nbytes: int) -> None:
        self._since_release += nbytes
        if self._since_release >= RELEASE_BYTES:
            self.release()

    def release(self) -> None:
        """Hand the map's resident pages back to the kernel (they stay in the page cache)."""
        self._since_release = 0
        handle = getattr(self.array, "_mmap", None)
        if handle is not None and hasattr(handle, "madvise"):
            handle.madvise(mmap.MADV_DONTNEED)

    def scan(self) -> str:
        """Check every value as the in-memory reader would (finite numbers, NaN and inf named
        by row and column) and return the data's value range ("binary", "unit" or "real"),
        reading ``SCAN_BYTES`` at a time."""
        source = str(self.path)
        step = max(1, SCAN_BYTES // max(1, self._row_bytes))
        lo, hi, binary = np.inf, -np.inf, True
        for start in range(0, self.n_rows, step):
            block = self._as_examples(np.asarray(self.array[start : start + step]))
            self._count(len(block) * self._row_bytes)
            if self.levels is not None:
                binary = binary and infer_value_range(block, self.levels) == "binary"
                continue

            def position(row: int, col: int, offset: int = start) -> str:
                return array_position(row + offset, col)

            block = as_features(block, source, position=position)
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
            binary = binary and bool(np.isin(block, (0.0, 1.0)).all())
        self.release()
        if self.levels is not None:
            return "binary" if binary else "unit"
        if lo < 0.0 or hi > 1.0:
            return "real"
        return "binary" if binary else "unit"

    def fingerprint(self) -> str:
        """Return a SHA-256 (hex) of the file's size, its header and ``FINGERPRINT_BLOCKS``
        evenly spaced blocks of its bytes: a file replaced, regenerated, cut short or grown
        changes it (an edit that spares every hashed byte would not)."""
        return sampled_fingerprint(self.path)


def sampled_fingerprint(path: Path) -> str:
    """Return a SHA-256 (hex) of ``path``'s size, its first and last block and
    ``FINGERPRINT_BLOCKS`` evenly spaced blocks of ``FINGERPRINT_BLOCK_BYTES``."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    offsets = {0, max(0, size - FINGERPRINT_BLOCK_BYTES)}
    offsets.update(int(i * size / FINGERPRINT_BLOCKS) for i in range(FINGERPRINT_BLOCKS))
    with open(path, "rb") as f:
        for offset in sorted(offsets):
            f.seek(offset)
            digest.update(f.read(FINGERPRINT_BLOCK_BYTES))
    return digest.hexdigest()
