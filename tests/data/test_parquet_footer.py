"""A Parquet footer held one row group at a time (vaekit.data.disk.parquet_footer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vaekit.data.disk import ParquetRows
from vaekit.data.disk import parquet_footer as footer_module
from vaekit.data.disk.parquet_footer import RowGroupFooter, _varint, _varint_bytes, _zigzag


def mixed_table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "k": rng.integers(-3, 1 << 40, n), "c": rng.choice(["a", "bb", "ccc"], n),
        "flag": rng.random(n) < 0.3, "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 999, n), "D"),
        "f32": rng.normal(size=n).astype(np.float32), "note": [f"row {i}" * (i % 4) for i in range(n)],
    })  # fmt: skip
    frame.loc[[3, 77, 400], "x"] = np.nan
    frame.loc[[5, 6], "c"] = None
    return frame


def write(path: Path, frame: pd.DataFrame, group_rows: int, **options) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=group_rows, **options)
    return path


@pytest.mark.parametrize(
    "options",
    [{}, {"write_statistics": False}, {"use_dictionary": False, "compression": "zstd"}, {"write_page_index": True}],
)
def test_each_row_group_reads_from_its_own_footer_as_from_the_whole_one(tmp_path, options):
    path = write(tmp_path / "t.parquet", mixed_table(), group_rows=37, **options)
    whole = pq.ParquetFile(path)
    footer = RowGroupFooter.read(path, min_bytes=0)
    assert footer is not None and footer.num_row_groups == whole.metadata.num_row_groups == 14
    assert footer.rows.tolist() == [whole.metadata.row_group(g).num_rows for g in range(14)]
    for group in range(14):
        meta = footer.metadata(group)
        assert meta.num_row_groups == 1 and meta.num_rows == footer.rows[group]
        assert meta.row_group(0).to_dict() == whole.metadata.row_group(group).to_dict()
        assert meta.schema.equals(whole.metadata.schema) and meta.metadata == whole.metadata.metadata
        assert footer.open(group).read_row_group(0).equals(whole.read_row_group(group))


def test_a_small_footer_or_one_not_taken_apart_is_left_to_pyarrow(tmp_path):
    path = write(tmp_path / "t.parquet", mixed_table(), group_rows=100)
    assert RowGroupFooter.read(path) is None  # below LEAN_FOOTER_BYTES: pyarrow holds it whole
    data = path.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    cut = tmp_path / "cut.parquet"  # the footer's last bytes lost: its fields end early
    cut.write_bytes(data[: -8 - length] + data[-8 - length : -20] + (length - 12).to_bytes(4, "little") + b"PAR1")
    encrypted = tmp_path / "encrypted.parquet"  # an encrypted footer ends with PARE
    encrypted.write_bytes(data[:-4] + b"PARE")
    (tmp_path / "short.parquet").write_bytes(b"PAR1")
    for name in ("cut", "encrypted", "short"):
        assert RowGroupFooter.read(tmp_path / f"{name}.parquet", min_bytes=0) is None, name


def test_a_table_on_disk_reads_the_same_rows_through_one_row_group_footers(tmp_path, monkeypatch):
    path = write(tmp_path / "t.parquet", mixed_table(), group_rows=64)
    whole = ParquetRows(path)
    monkeypatch.setattr(footer_module, "LEAN_FOOTER_BYTES", 0)
    lean = ParquetRows(path)
    assert whole.footer is None and lean.footer is not None
    assert lean.file.metadata.num_row_groups == 1  # the whole footer is not held
    assert np.array_equal(lean.layout.starts, whole.layout.starts)
    for group in (0, 3, 7):
        pd.testing.assert_frame_equal(lean.decode_group(group, ["x", "c"]), whole.decode_group(group, ["x", "c"]))
    rows = np.array([499, 0, 250, 64, 63])
    pd.testing.assert_frame_equal(lean.frame_of(np.sort(rows)), whole.frame_of(np.sort(rows)))


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 1 << 31, (1 << 40) + 5, -(1 << 62), (1 << 63) - 1])
def test_row_counts_are_written_as_thrift_zigzag_varints(value):
    encoded = _varint_bytes(value)
    decoded, end = _varint(encoded, 0)
    assert _zigzag(decoded) == value and end == len(encoded)
