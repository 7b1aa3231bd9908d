"""A Parquet table read by row groups and encoded by a run's codec, batch by batch.

Parquet stores rows in row groups, each compressed column by column: a row can only be had by
decoding its row group. So this reader decodes whole row groups, keeps a few (decoded, and
for training encoded, in a ``BlockReader``) and serves rows from them; the epoch's block shuffle
(``vaekit.data.disk.blocks``) makes every training batch come from the ``window`` row groups
held.

Fitting without reading the whole table: the schema is inferred and the codec fitted on a
seeded sample of ``sample_size(columns)`` rows (100,000, fewer for tables of more than 83
columns, never fewer than 10,000; every row of a smaller table, so that a small table gets
exactly the schema and codec of the in-memory reader). A larger table's schema is
then completed by one pass over its row groups: every category, the range of every number
and the missing cells of every column, so that every row encodes and a log transform's origin
is the table's minimum. What the sample alone decides: each column's kind (a rare text value
outside the sample does not turn a column of numbers into text: Parquet columns have one type),
the point masses and scales of the number transforms, and the shares of condition values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.data.disk.blocks import BlockLayout, BlockReader
from vaekit.data.disk.parquet_footer import RowGroupFooter
from vaekit.runtime.errors import DataError

#: the schema and codec of a table are fitted on a sample of at most this many rows ...
SAMPLE_ROWS = 100_000
#: ... and at most this many cells (a wide table's sample holds fewer rows), at least MIN_SAMPLE_ROWS
SAMPLE_CELLS = 1 << 23
MIN_SAMPLE_ROWS = 10_000


def sample_size(columns: int) -> int:
    """Return the rows of the sample a table of ``columns`` columns is fitted on."""
    return max(MIN_SAMPLE_ROWS, min(SAMPLE_ROWS, SAMPLE_CELLS // max(1, columns)))
#: the row groups a shuffle window holds may take at most this many bytes once encoded
MAX_WINDOW_BYTES = 512 << 20
#: row groups smaller than this on average make a file slow to read by row groups
MIN_AVERAGE_GROUP_ROWS = 32


class ParquetRows:
    """The rows of a Parquet file, encoded by ``codec`` (set once fitted) as they are read:
    ``read(rows)`` returns float32 ``[k, codec.width]`` and, with condition columns, the
    int64 joint labels."""

    #: a row is had only by decoding its row group: reads must keep to a few row groups
    reads_by_blocks = True

    def __init__(self, path: str | Path, file: Any = None) -> None:
        from vaekit.data.tables.read import open_parquet

        self.path = Path(path)
        #: the file messages name: this one, or the text table it is a copy of
        self.source = str(self.path)
        #: a large footer is held one row group at a time (see ``parquet_footer``), not whole
        self.footer = RowGroupFooter.read(self.path) if file is None else None
        #: the file opened by pyarrow: whole, or knowing only row group 0 (for its schema)
        self.file = file if file is not None else open_parquet(self.path, self.footer)
        if self.footer is not None:
            sizes = self.footer.rows
        else:
            sizes = [self.file.metadata.row_group(g).num_rows for g in range(self.file.metadata.num_row_groups)]
        self.layout = BlockLayout.from_sizes(sizes)
        self.n_rows = self.layout.n_rows
        self.codec: Any = None
        self.dtype = torch.float32
        #: decoded row groups (DataFrames) kept for reads of a few rows each
        self._decoded: OrderedDict[int, Any] = OrderedDict()
        self.decoded_capacity = 2
        #: the rows of the last read and its answer (a split's examples and labels are read apart)
        self._last: tuple[bytes, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    @property
    def width(self) -> int:
        """Values per encoded row (the codec's width)."""
        return int(self.codec.width)

    @property
    def read_columns(self) -> list[str] | None:
        """The columns decoded from each row group: the codec's (ignored ones, such as
        identifiers or free text, are not read), or all of them before it is fitted."""
        return None if self.codec is None else list(self.codec.columns)

    @property
    def labelled(self) -> bool:
        """Whether rows come with labels (the codec conditions on columns)."""
        return bool(self.codec is not None and self.codec.num_conditions)

    def check_layout(self, window: int) -> None:
        """Refuse (``DataError``) row groups of no sensible size for reading ``window`` of them
        at a time: too large to hold (``MAX_WINDOW_BYTES`` once encoded) or so small that
        reading them one by one would crawl."""
        sizes = self.layout.sizes
        largest = int(sizes.max())
        held = window * largest * self.width * 4
        advice = (
            "rewrite the file with row groups of about {rows:,} rows, e.g. "
            "pyarrow.parquet.write_table(table, path, row_group_size={rows})"
        )
        if held > MAX_WINDOW_BYTES:
            rows = max(1024, int(MAX_WINDOW_BYTES // (window * self.width * 4)))
            raise DataError(
                f"{self.path}: its largest row group has {largest:,} rows, {largest * self.width * 4 / 2**20:,.0f} MiB "
                f"once encoded; a shuffle window of {window} row group(s) would hold {held / 2**20:,.0f} MiB "
                f"(at most {MAX_WINDOW_BYTES >> 20} MiB): " + advice.format(rows=rows)
                + ", or lower --shuffle-window"
            )
        if len(sizes) > 1 and sizes.mean() < MIN_AVERAGE_GROUP_ROWS:
            raise DataError(
                f"{self.path}: its {len(sizes):,} row groups hold {sizes.mean():.1f} rows on average; reading rows by "
                f"row groups that small would crawl: " + advice.format(rows=65536)
            )

    def decode_group(self, group: int, columns: list[str] | None = None) -> Any:
        """Return row group ``group`` as a DataFrame typed as ``read_table`` types a Parquet
        file (only ``columns``, if given). Raises ``DataError`` naming the row group and its rows
        when pyarrow cannot read it (a damaged file)."""
        import pyarrow as pa

        from vaekit.data.tables.read import arrow_frame, unreadable_row_group

        try:
            if self.footer is None:
                table = self.file.read_row_group(group, columns=columns)
            else:
                table = self.footer.open(group).read_row_group(0, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            rows = (int(self.layout.starts[group]), int(self.layout.starts[group + 1]))
            raise unreadable_row_group(str(self.path), group, self.layout.n_blocks, rows, exc, source=self.source) from None
        return arrow_frame(table)

    def _decoded_group(self, group: int) -> Any:
        frame = self._decoded.get(group)
        if frame is None:
            frame = self.decode_group(group, self.read_columns)
            self._decoded[group] = frame
            while len(self._decoded) > self.decoded_capacity:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(group)
        return frame

    def frame_of(self, rows: np.ndarray) -> Any:
        """Return the file rows ``rows`` (sorted ascending) as one DataFrame, decoding each of
        their row groups once."""
        import pandas as pd

        from vaekit.data.tables.cells import FileRows

        rows = np.asarray(rows, dtype=np.int64)
        groups = self.layout.block_of(rows)
        parts = []
        for group in np.unique(groups):
            local = rows[groups == group] - self.layout.starts[group]
            parts.append(self._decoded_group(int(group)).iloc[local])
        frame = pd.concat(parts, ignore_index=True) if len(parts) != 1 else parts[0].reset_index(drop=True)
        frame.attrs.update(vaekit_source=self.source, vaekit_file_rows=FileRows(rows))
        return frame

    def encode(self, frame: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return rows of the table as the model reads them: float32 ``[k, width]`` and the
        int64 labels (None without condition columns)."""
        from vaekit.data.table_bundle import encoded

        return encoded(self.codec, frame)

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the encoded examples ``[len(rows), width]`` (float32) and labels of the file
        rows ``rows`` (any order), encoding only those rows; for reads of a few rows from each
        row group (validation and test batches). The last answer is kept, since a split's
        examples and labels are asked for separately."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return torch.empty(0, self.width), (torch.empty(0, dtype=torch.int64) if self.labelled else None)
        key = rows.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        order = np.argsort(rows, kind="stable")
        x_sorted, y_sorted = self.encode(self.frame_of(rows[order]))
        back = torch.from_numpy(np.argsort(order, kind="stable"))
        answer = (x_sorted[back], y_sorted[back] if y_sorted is not None else None)
        self._last = (key, answer)
        return answer

    def block_reader(self, capacity: int) -> BlockReader:
        """Return a reader of training batches that decodes and encodes whole row groups and
        keeps ``capacity`` of them (the shuffle window)."""
        return BlockReader(self, capacity)

    def load_block(self, group: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return row group ``group`` decoded and encoded: float32 ``[rows, width]`` and labels."""
        return self.encode(self._group_frame(group, self.read_columns))

    def groups(self, columns: list[str] | None = None) -> Iterator[Any]:
        """Yield the row groups in file order as DataFrames (only ``columns``, if given)."""
        for group in range(self.layout.n_blocks):
            yield self._group_frame(group, columns)

    def _group_frame(self, group: int, columns: list[str] | None) -> Any:
        """Return row group ``group`` decoded, knowing its file and file rows (for messages)."""
        from vaekit.data.tables.cells import FileRows

        frame = self.decode_group(group, columns)
        start = int(self.layout.starts[group])
        frame.attrs.update(vaekit_source=self.source, vaekit_file_rows=FileRows(range(start, start + len(frame))))
        return frame
