"""Data larger than memory (``--data-loading disk``, docs/large-data.md): data files read batch
by batch, never whole.

- ``.npy`` files through a memory map (``NpyRows``), any row at once: an epoch follows the same
  full permutation as a tensor in memory;
- Parquet files by row groups (``ParquetRows``), each encoded by the run's table codec as it is
  read; an epoch follows the block shuffle (``BlockShuffle``);
- CSV/TSV files through a Parquet copy made once (``converted_parquet``).

A split is a ``RowView``: file rows, read when indexed. ``open_disk_data`` opens a file as a
``LazyBundle`` with the splits ``load_data`` would make. Importing this package imports
neither pandas nor pyarrow.
"""

from vaekit.data.disk.blocks import BlockLayout, BlockShuffle, block_rows_for
from vaekit.data.disk.bundle import DISK_SUFFIXES, LazyBundle, open_disk_data, streams
from vaekit.data.disk.convert import converted_parquet
from vaekit.data.disk.npy import NpyRows
from vaekit.data.disk.parquet import ParquetRows
from vaekit.data.disk.rows import RowView, is_lazy

__all__ = [
    "DISK_SUFFIXES",
    "BlockLayout",
    "BlockShuffle",
    "LazyBundle",
    "NpyRows",
    "ParquetRows",
    "RowView",
    "block_rows_for",
    "converted_parquet",
    "is_lazy",
    "open_disk_data",
    "streams",
]
