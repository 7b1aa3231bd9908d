"""``RowView``: a split's examples (or labels) left in their file, read when indexed.

A view is a file (a row source: ``NpyRows`` or ``ParquetRows``) and the file rows of the
split's examples, in the split's order. It answers what the code asks of a split's tensor
(``len``, ``shape``, ``dtype``, ``numel()``, ``element_size()``, and indexing by a slice, an
integer or an index tensor, which reads those rows and returns a tensor in the stored dtype),
and ``subset`` makes a smaller view without reading anything.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch


class RowSource(Protocol):
    """A file of examples read by rows."""

    n_rows: int
    width: int
    dtype: torch.dtype
    labelled: bool

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the examples ``[len(rows), width]`` (in ``dtype``) at the file rows ``rows``
        and their int64 labels (None when unlabelled)."""
        ...


#: entries gathered at a time by ``gather`` (bounds its work arrays)
GATHER_CHUNK = 1 << 18


def gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Return ``values[index]`` (``index`` a 1-D integer tensor) a chunk of ``GATHER_CHUNK``
    entries at a time: indexing widens an int32 index to int64 first, which for the split of a
    large file would hold twice the index again for a moment."""
    out = torch.empty(len(index), dtype=values.dtype)
    for start in range(0, len(index), GATHER_CHUNK):
        torch.index_select(values, 0, index[start : start + GATHER_CHUNK], out=out[start : start + GATHER_CHUNK])
    return out


def row_index(rows: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Return file row numbers as a compact tensor: int32 while they fit (4 bytes a row rather
    than 8: a split of 100 million rows holds 400 MB less), else int64."""
    rows = torch.as_tensor(np.asarray(rows)) if not isinstance(rows, torch.Tensor) else rows
    if len(rows) == 0 or int(rows.max()) <= np.iinfo(np.int32).max:
        return rows.to(torch.int32)
    return rows.to(torch.int64)


class RowView:
    """The examples (``part="x"``, ``[N, D]``) or labels (``part="labels"``, ``[N]``) of the
    file rows ``rows`` of ``source``, read only when indexed."""

    def __init__(self, source: RowSource, rows: np.ndarray | torch.Tensor, part: str = "x") -> None:
        if part not in ("x", "labels"):
            raise ValueError(f"part must be 'x' or 'labels', got {part!r}")
        self.source = source
        self.rows = row_index(rows)
        self.part = part

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"RowView({getattr(self.source, 'path', self.source)}, {len(self)} rows, {self.part})"

    @property
    def shape(self) -> torch.Size:
        """``[N, D]`` for examples, ``[N]`` for labels."""
        return torch.Size([len(self), self.source.width] if self.part == "x" else [len(self)])

    @property
    def ndim(self) -> int:
        """2 for examples, 1 for labels."""
        return len(self.shape)

    @property
    def dtype(self) -> torch.dtype:
        """The stored dtype of what indexing returns (uint8 grey levels, float32, or int64 labels)."""
        return self.source.dtype if self.part == "x" else torch.int64

    @property
    def device(self) -> torch.device:
        """Rows are read into CPU memory."""
        return torch.device("cpu")

    def numel(self) -> int:
        """Number of values the view would hold if read whole."""
        return int(np.prod(self.shape))

    def element_size(self) -> int:
        """Bytes per value of the stored dtype."""
        return torch.empty(0, dtype=self.dtype).element_size()

    def file_rows(self, key: Any = slice(None)) -> np.ndarray:
        """Return the file rows (int64) of the view's entries ``key`` (a slice, an integer, or
        an index array or tensor)."""
        if isinstance(key, torch.Tensor):
            key = key.cpu()
            if key.dtype not in (torch.int64, torch.int32, torch.bool):
                key = key.long()
        rows = self.rows[key]
        return np.atleast_1d(rows.numpy()).astype(np.int64, copy=False)

    def __getitem__(self, key: Any) -> torch.Tensor:
        x, y = self.source.read(self.file_rows(key))
        out = x if self.part == "x" else y
        if out is None:
            raise TypeError("this file's rows have no labels")
        return out[0] if isinstance(key, (int, np.integer)) else out

    def read(self, index: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the examples and labels (None when unlabelled) of the entries ``index``."""
        return self.source.read(self.file_rows(index))

    def subset(self, index: Any) -> RowView:
        """Return the view of the entries ``index`` (read nothing)."""
        key = index.cpu() if isinstance(index, torch.Tensor) else index
        if isinstance(key, torch.Tensor) and key.dtype != torch.bool and key.dim() == 1:
            return RowView(self.source, gather(self.rows, key), self.part)
        return RowView(self.source, self.rows[key], self.part)

    def labels(self) -> RowView | None:
        """Return the view of the same rows' labels, or None when the file has none."""
        return RowView(self.source, self.rows, "labels") if self.source.labelled else None

    def clone(self) -> torch.Tensor:
        """Return every entry, read (as a tensor's ``clone`` would)."""
        return self[:]


def is_lazy(x: Any) -> bool:
    """True when ``x`` is a ``RowView`` (a split left in its file) rather than a tensor."""
    return isinstance(x, RowView)
