"""Data read from disk batch by batch (vaekit.data.disk): the same rows, splits and codec as the
in-memory reader, a flat resident set, the block shuffle, and clear refusals."""

from __future__ import annotations

import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from vaekit.data import load_data
from vaekit.data.disk import (
    BlockLayout,
    BlockShuffle,
    NpyRows,
    ParquetRows,
    RowView,
    block_rows_for,
    convert,
    converted_parquet,
    open_disk_data,
)
from vaekit.data.disk import bundle as bundle_module
from vaekit.data.disk import parquet as parquet_module
from vaekit.data.disk.bundle import check_unchanged
from vaekit.data.disk.npy import sampled_fingerprint
from vaekit.data.options import LoadOptions
from vaekit.data.tables.read import read_table, typed_text_chunks
from vaekit.runtime.errors import DataError

from .helpers import damage_row_group

OPTIONS = LoadOptions(test_fraction=0.2, seed=0)


def write_parquet(path: Path, frame: pd.DataFrame, group_rows: int) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=group_rows)
    return path


def table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "k": rng.integers(0, 5, n), "c": rng.choice(["a", "b", "c"], n),
        "amount": rng.exponential(size=n),
    })  # fmt: skip
    frame.loc[[3, 40], "x"] = np.nan
    return frame


def resident_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


@pytest.mark.parametrize(
    "shape, dtype",
    [((50, 6), np.float32), ((50, 6), np.float64), ((40, 5, 4), np.uint8), ((40, 5, 4, 3), np.uint8), ((30, 3, 4, 2), np.float32)],
)
def test_npy_rows_are_the_examples_the_in_memory_reader_gives(tmp_path, shape, dtype):
    rng = np.random.default_rng(0)
    array = (rng.random(shape) * 255).astype(dtype)
    np.save(tmp_path / "a.npy", array)
    bundle = load_data(tmp_path / "a.npy", test_fraction=0.2)
    lazy = open_disk_data(str(tmp_path / "a.npy"), OPTIONS)
    assert lazy.shape == bundle.shape and lazy.levels == bundle.levels and lazy.value_range == bundle.value_range
    assert lazy.train.dtype == bundle.train.dtype  # uint8 images stay uint8 grey levels
    assert torch.equal(lazy.train[:], bundle.train) and torch.equal(lazy.test[:], bundle.test)
    index = torch.tensor([5, 0, 5, len(bundle.train) - 1])  # any order, repeats too
    assert torch.equal(lazy.train[index], bundle.train[index])


def test_a_row_view_answers_what_code_asks_of_a_tensor(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(60, dtype=np.float32).reshape(20, 3))
    view = RowView(NpyRows(tmp_path / "a.npy"), np.arange(19, -1, -1))
    assert len(view) == 20 and view.shape == (20, 3) and view.dtype == torch.float32
    assert view.numel() == 60 and view.element_size() == 4 and view.labels() is None
    assert torch.equal(view[0], torch.tensor([57.0, 58.0, 59.0]))
    assert torch.equal(view[:2], torch.tensor([[57.0, 58.0, 59.0], [54.0, 55.0, 56.0]]))
    assert view[:0].shape == (0, 3)
    sub = view.subset(torch.tensor([19, 0]))  # nothing read yet
    assert isinstance(sub, RowView) and torch.equal(sub[:], torch.tensor([[0.0, 1.0, 2.0], [57.0, 58.0, 59.0]]))


def test_reading_random_rows_keeps_the_resident_set_flat(tmp_path):
    # 32 MiB of rows read at random: through a memory map the pages around each row would stay resident.
    rows = NpyRows(_big_npy(tmp_path / "big.npy", 8192, 1024))
    before = resident_mib()
    generator = torch.Generator().manual_seed(0)
    for batch in torch.randperm(8192, generator=generator).split(128):
        rows.read(batch.numpy())
    assert resident_mib() - before < 16
    assert rows.scan() == "real"
    assert resident_mib() - before < 16  # the check of every value hands the map's pages back


def _big_npy(path: Path, n: int, d: int) -> Path:
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    array[:] = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
    array.flush()
    del array
    return path


def test_a_bad_value_is_named_by_row_and_column_as_in_memory(tmp_path):
    array = np.zeros((10, 4), dtype=np.float32)
    array[7, 2] = np.nan
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match="row 7, column 2 \\(counted from 0\\) is nan"):
        open_disk_data(str(tmp_path / "bad.npy"), OPTIONS)


def test_formats_that_do_not_stream_are_refused_with_the_way_to_one_that_does(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 2)))
    (tmp_path / "images").mkdir()
    (tmp_path / "notes.txt").write_text("1,2\n")
    cases = {
        str(tmp_path / "a.npz"): r"\.npz archive.*numpy\.save\('x\.npy'",
        str(tmp_path / "images"): r"a folder.*save it as a \.npy stack",
        "digits": "fits in memory: leave --data-loading at memory",
        str(tmp_path / "notes.txt"): r"reads \.npy, \.parquet/\.pq and \.csv/\.tsv files",
        str(tmp_path / "missing.npy"): "neither a dataset name",
    }
    for spec, message in cases.items():
        with pytest.raises(DataError, match=message):
            open_disk_data(spec, OPTIONS)
    from vaekit.data.disk.bundle import refuse_format

    with pytest.raises(DataError, match=r"not a DataFrame held in memory; write it to a file, e\.g\. frame\.to_parquet"):
        refuse_format(pd.DataFrame({"a": [1, 2]}), ())


def test_a_parquet_table_gets_the_splits_and_codec_of_the_in_memory_reader(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", table(), group_rows=64)
    bundle = load_data(path, test_fraction=0.2)
    lazy = open_disk_data(str(path), OPTIONS)
    assert lazy.table == bundle.table  # the sample holds every row of a small table
    assert lazy.layout.n_blocks == 5 and lazy.data_file["row_groups"] == 5
    assert torch.equal(lazy.train[:], bundle.train) and torch.equal(lazy.test[:], bundle.test)
    assert torch.equal(lazy.train[torch.tensor([200, 3, 77])], bundle.train[torch.tensor([200, 3, 77])])


def test_a_conditional_table_reads_its_labels_with_its_rows(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", table(), group_rows=64)
    options = LoadOptions(test_fraction=0.2, condition_on=["c"])
    bundle = load_data(path, test_fraction=0.2, condition_on=["c"])
    lazy = open_disk_data(str(path), options)
    assert lazy.num_classes == bundle.num_classes == 3
    assert torch.equal(lazy.train_labels[:], bundle.train_labels)
    assert torch.equal(lazy.test_labels[10:20], bundle.test_labels[10:20])


def test_training_reads_decode_each_row_group_once_per_block_ordered_epoch(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", table(640), group_rows=64)
    lazy = open_disk_data(str(path), OPTIONS, window=2)
    reader = lazy.train.source.block_reader(2)
    shuffle = BlockShuffle.of_rows(lazy.train.rows, lazy.layout, window=2)
    order = shuffle.order(torch.randperm(len(lazy.train), generator=torch.Generator().manual_seed(3)))
    rows = []
    for batch in order.split(32):
        x, _ = reader.read(lazy.train.file_rows(batch))
        rows.append(x)
    assert reader.loads == lazy.layout.n_blocks  # each row group decoded and encoded once
    assert torch.equal(torch.cat(rows), lazy.train[order.long()])


def test_npy_blocks_are_read_whole_once_an_epoch_under_the_block_order(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).normal(size=(5000, 1024)).astype(np.float32))
    lazy = open_disk_data(str(tmp_path / "a.npy"), OPTIONS)
    assert lazy.layout.sizes.tolist() == [2048, 2048, 904]  # block_rows_for(1024) rows
    reader = lazy.train.source.block_reader(2)
    shuffle = BlockShuffle.of_rows(lazy.train.rows, lazy.layout, window=2)
    order = shuffle.order(torch.randperm(len(lazy.train), generator=torch.Generator().manual_seed(1))).long()
    rows = [reader.read(lazy.train.file_rows(batch))[0] for batch in order.split(64)]
    assert reader.loads == 3 and torch.equal(torch.cat(rows), lazy.train[order])


def test_a_batch_that_needs_more_row_groups_than_the_window_holds_is_still_read_right(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", table(640), group_rows=64)
    lazy = open_disk_data(str(path), OPTIONS, window=2)
    reader = lazy.train.source.block_reader(2)
    order = torch.randperm(len(lazy.train), generator=torch.Generator().manual_seed(0))  # a full shuffle
    for batch in order.split(50):  # each batch spans most of the 10 row groups
        x, _ = reader.read(lazy.train.file_rows(batch))
        assert torch.equal(x, lazy.train[batch])


def test_the_block_order_visits_windows_of_blocks_in_the_permutations_order():
    layout = BlockLayout.fixed(1000, 100)
    file_rows = torch.randperm(1000, generator=torch.Generator().manual_seed(1))[:700]
    shuffle = BlockShuffle.of_rows(file_rows, layout, window=3)
    permutation = torch.randperm(700, generator=torch.Generator().manual_seed(2))
    order = shuffle.order(permutation).long()
    assert torch.equal(order.sort().values, torch.arange(700))  # a permutation of the training rows
    blocks = shuffle.blocks_of(order)
    window = shuffle.window_of_block(permutation)[blocks]
    assert torch.equal(window, window.sort().values)  # the windows in turn
    assert (window.bincount() > 0).sum() == 4  # 10 blocks, 3 to a window
    for w in range(4):  # within a window, the permutation's order
        mine = order[window == w]
        rank = torch.empty(700, dtype=torch.long)
        rank[permutation] = torch.arange(700)
        assert torch.equal(rank[mine], rank[mine].sort().values)
    assert torch.equal(shuffle.order(permutation), shuffle.order(permutation.clone()))  # a function of it
    other = shuffle.order(torch.randperm(700, generator=torch.Generator().manual_seed(5)))
    assert not torch.equal(other, shuffle.order(permutation))


def test_the_block_order_does_not_depend_on_the_chunk_it_is_computed_in(monkeypatch):
    from vaekit.data.disk import blocks

    shuffle = BlockShuffle.of_rows(np.arange(5000), BlockLayout.fixed(5000, 256), window=2)
    permutation = torch.randperm(5000, generator=torch.Generator().manual_seed(0))
    whole = shuffle.order(permutation)
    monkeypatch.setattr(blocks, "ORDER_CHUNK", 333)
    assert torch.equal(shuffle.order(permutation), whole)


def test_row_groups_of_no_sensible_size_are_refused_with_the_fix(tmp_path, monkeypatch):
    frame = table(2000)
    big = write_parquet(tmp_path / "big.parquet", frame, group_rows=2000)
    monkeypatch.setattr(parquet_module, "MAX_WINDOW_BYTES", 100_000)
    with pytest.raises(DataError, match=r"largest row group has 2,000 rows.*row_group_size=.*or lower --shuffle-window"):
        open_disk_data(str(big), OPTIONS)
    tiny = write_parquet(tmp_path / "tiny.parquet", frame, group_rows=10)
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"200 row groups hold 10\.0 rows on average.*row_group_size=65536"):
        open_disk_data(str(tiny), OPTIONS)


def test_a_large_tables_schema_is_completed_beyond_its_sample(tmp_path, monkeypatch):
    frame = table(1000)
    frame.loc[999, "c"] = "rare"  # outside a 100-row sample (rows are sampled at random)
    frame.loc[998, "amount"] = -5.0
    path = write_parquet(tmp_path / "t.parquet", frame, group_rows=100)
    monkeypatch.setattr(parquet_module, "MIN_SAMPLE_ROWS", 100)
    monkeypatch.setattr(parquet_module, "SAMPLE_ROWS", 100)
    lazy = open_disk_data(str(path), OPTIONS)
    columns = {c["name"]: c for c in lazy.table["schema"]["columns"]}
    assert "rare" in columns["c"]["categories"] and columns["amount"]["minimum"] == -5.0
    assert columns["x"]["missing"] == 2 and "from a sample of 100 rows" in columns["c"]["reason"]
    assert lazy.train[:].shape == (800, lazy.shape[0])  # every row encodes


def test_a_column_binary_in_the_sample_but_not_beyond_is_refused(tmp_path, monkeypatch):
    frame = pd.DataFrame({"x": np.arange(1000) % 7 * 0.5, "flag": ["yes", "no"] * 500})
    frame.loc[999, "flag"] = "maybe"
    path = write_parquet(tmp_path / "t.parquet", frame, group_rows=100)
    monkeypatch.setattr(parquet_module, "MIN_SAMPLE_ROWS", 50)
    monkeypatch.setattr(parquet_module, "SAMPLE_ROWS", 50)
    with pytest.raises(DataError, match=r"'flag' looked binary in a sample of 50 rows.*--column-types flag=categorical"):
        open_disk_data(str(path), OPTIONS)


def test_a_csv_is_converted_once_to_parquet_typed_as_a_whole_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    frame = table(3000)
    frame["id"] = [f"{10**19 + i}" for i in range(3000)]  # too long for int64: text
    frame["k"] = frame["k"].astype(object)
    frame.loc[2900, "k"] = None  # a gap in the last chunk only: Int64 for the whole column
    frame.to_csv(tmp_path / "t.csv", index=False)
    whole = read_table(tmp_path / "t.csv")
    parts = pd.concat(list(typed_text_chunks(tmp_path / "t.csv", 1024)), ignore_index=True)
    pd.testing.assert_frame_equal(parts, whole)
    assert block_rows_for(6) == 65536 and block_rows_for(784) == 2048  # 2 Mi values, a power of two
    monkeypatch.setattr(convert, "block_rows_for", lambda columns: 1024)
    said: list[str] = []
    parquet, fingerprint = converted_parquet(tmp_path / "t.csv", say=said.append)
    assert parquet.parent == tmp_path / "cache" / "converted" and said[0].startswith("converted")
    assert "reads tables by row groups" in said[0]
    assert ParquetRows(parquet).layout.sizes.tolist() == [1024, 1024, 952]  # exact row groups, the header aside
    pd.testing.assert_frame_equal(read_table(parquet), whole, check_dtype=False)
    again, _ = converted_parquet(tmp_path / "t.csv", say=said.append)
    assert again == parquet and "converted earlier" in said[1]


def test_a_changed_file_is_refused_naming_what_changed(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((30, 4), dtype=np.float32))
    recorded = open_disk_data(str(tmp_path / "a.npy"), OPTIONS).data_file
    np.save(tmp_path / "a.npy", np.ones((30, 4), dtype=np.float32))
    with pytest.raises(DataError, match=r"changed since this run started \(its content differs.*put the original"):
        open_disk_data(str(tmp_path / "a.npy"), OPTIONS, recorded=recorded, value_range="unit")
    np.save(tmp_path / "a.npy", np.ones((40, 4), dtype=np.float32))
    now = open_disk_data(str(tmp_path / "a.npy"), OPTIONS).data_file
    with pytest.raises(DataError, match="it had 30 rows in 1 row group.*it has 40 rows"):
        check_unchanged(now, recorded)


def test_a_views_subset_is_gathered_a_chunk_at_a_time_with_the_same_rows(tmp_path, monkeypatch):
    from vaekit.data.disk import rows as rows_module

    source = rows_module.RowView(parquet_module.ParquetRows(write_parquet(tmp_path / "t.parquet", table(50), 8)),
                                 np.arange(49, -1, -1))  # fmt: skip
    monkeypatch.setattr(rows_module, "GATHER_CHUNK", 3)
    index = torch.tensor([7, 0, 49, 3, 3, 12, 1], dtype=torch.int32)
    part = source.subset(index)
    assert part.rows.dtype == torch.int32 and part.rows.tolist() == [42, 49, 0, 46, 46, 37, 48]
    assert source.subset(torch.zeros(0, dtype=torch.int64)).rows.tolist() == []


def _huge_table(row: int, value: float = 1e300, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y"], n), "d": rng.exponential(size=n)})
    frame.loc[row, "a"] = value
    return frame


def _split_rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the training and test file rows of ``path`` as the in-memory reader splits it."""
    train, test = load_data(str(path), test_fraction=0.2, seed=0).file_rows
    return train, test


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_a_number_beyond_float32_is_refused_in_any_row_naming_its_row(tmp_path, monkeypatch, suffix, split):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    rows = _split_rows(write_parquet(tmp_path / "clean.parquet", _huge_table(0, 0.0), 100))[split == "test"]
    row = int(rows[rows > 150][0])  # beyond the first row group
    path = tmp_path / f"h.{suffix}"
    frame = _huge_table(row)
    frame.to_csv(path, index=False) if suffix == "csv" else write_parquet(path, frame, 100)
    place = f"line {row + 2}" if suffix == "csv" else f"row {row + 1}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(DataError, match=rf"h\.{suffix}: column 'a' has numbers beyond float32's range.*\({place}\)"):
            load_data(str(path), test_fraction=0.2, seed=0)
        with pytest.raises(DataError, match=rf"h\.{suffix}: column 'a' has numbers beyond float32's range.*\(row {row + 1}\)"):
            open_disk_data(str(path), OPTIONS)
    assert not list((tmp_path / "cache").rglob("*.parquet"))  # a refused table leaves no Parquet copy


def test_a_number_beyond_float32_outside_the_schema_sample_is_refused_naming_its_row(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_module, "MIN_SAMPLE_ROWS", 50)
    monkeypatch.setattr(parquet_module, "SAMPLE_ROWS", 50)
    sample = set(bundle_module.sample_rows(400, 50, 0).tolist())
    row = next(r for r in range(250, 400) if r not in sample)
    path = write_parquet(tmp_path / "h.parquet", _huge_table(row), 100)
    with pytest.raises(DataError, match=rf"h\.parquet: column 'a' has numbers beyond float32's range.*\(row {row + 1}\)"):
        open_disk_data(str(path), OPTIONS)


def test_a_held_out_cell_that_overflows_once_scaled_names_its_file_row(tmp_path):
    frame = _huge_table(0, 0.0)
    frame["a"] *= 1e-3
    clean = write_parquet(tmp_path / "clean.parquet", frame, 100)
    _, test = _split_rows(clean)
    row = int(test[test > 150][0])
    frame.loc[row, "a"] = 1e36  # within float32, beyond it once divided by the column's spread
    path = write_parquet(tmp_path / "h.parquet", frame, 100)
    with pytest.raises(DataError, match=rf"h\.parquet: column 'a' has cells too large to encode.*\(row {row + 1}\)"):
        load_data(str(path), test_fraction=0.2, seed=0)
    bundle = open_disk_data(str(path), OPTIONS)
    with pytest.raises(DataError, match=rf"h\.parquet: column 'a' has cells too large to encode.*\(row {row + 1}\)"):
        bundle.test[: len(bundle.test)]
    reader = ParquetRows(path)
    reader.codec = bundle.train.source.codec
    with pytest.raises(DataError, match=rf"\(row {row + 1}\)"):
        reader.load_block(row // 100)


def test_a_changed_csv_is_refused_before_it_is_converted(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "t.csv"
    table(120).to_csv(path, index=False)
    recorded = open_disk_data(str(path), OPTIONS).data_file
    copies = sorted((tmp_path / "cache").rglob("*.parquet"))
    table(121).to_csv(path, index=False)
    said: list[str] = []
    with pytest.raises(DataError, match=r"t\.csv changed since this run started \(it had 120 rows in 1 row group"):
        open_disk_data(str(path), OPTIONS, recorded=recorded, say=said.append)
    assert sorted((tmp_path / "cache").rglob("*.parquet")) == copies and not said


def test_a_csv_refused_after_conversion_leaves_no_copy_and_says_nothing_of_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    frame = table(120).astype({"k": object})
    frame.loc[7, "k"] = "seven"
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    said: list[str] = []
    with pytest.raises(DataError, match="mixes numbers and text"):
        open_disk_data(str(tmp_path / "mixed.csv"), OPTIONS, say=said.append)
    assert not list((tmp_path / "cache").rglob("*.parquet")) and not said
    typed = LoadOptions(test_fraction=0.2, seed=0, column_types={"k": "categorical"})
    open_disk_data(str(tmp_path / "mixed.csv"), typed, say=said.append)
    assert said[0].startswith("converted") and len(list((tmp_path / "cache").rglob("*.parquet"))) == 1


def test_a_damaged_parquet_copy_is_converted_again(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    table(120).to_csv(tmp_path / "t.csv", index=False)
    first = open_disk_data(str(tmp_path / "t.csv"), OPTIONS)
    copy = Path(first.data_file["read_from"])
    copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])
    said: list[str] = []
    again = open_disk_data(str(tmp_path / "t.csv"), OPTIONS, recorded=first.data_file, say=said.append)
    assert "earlier copy there was damaged" in said[0]
    assert torch.equal(again.train[: len(again.train)], first.train[: len(first.train)])


@pytest.mark.parametrize("cache", ["file", "proc"])
def test_an_unusable_cache_folder_is_refused_naming_vaekit_cache_dir(tmp_path, monkeypatch, cache):
    (tmp_path / "notadir").touch()
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "notadir") if cache == "file" else "/proc/vaekit-no-such")
    table(120).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"t\.csv: cannot make the folder for its Parquet copy.*set VAEKIT_CACHE_DIR"):
        open_disk_data(str(tmp_path / "t.csv"), OPTIONS)


def test_a_header_only_csv_on_disk_is_refused_as_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "h.csv").write_text("a,b,c\n")
    with pytest.raises(DataError, match="has a header line but no rows of data"):
        load_data(str(tmp_path / "h.csv"))
    with pytest.raises(DataError, match="has a header line but no rows of data"):
        open_disk_data(str(tmp_path / "h.csv"), OPTIONS)


def test_table_mode_matrix_is_refused_on_disk_for_the_files_format(tmp_path):
    write_parquet(tmp_path / "m.parquet", table(60).drop(columns="c"), 30)
    matrix = LoadOptions(test_fraction=0.2, seed=0, table_mode="matrix")
    with pytest.raises(DataError, match="a Parquet file is read as a typed table") as refused:
        open_disk_data(str(tmp_path / "m.parquet"), matrix)
    assert "CSV" not in str(refused.value)


def test_the_fix_for_an_image_folder_on_disk_keeps_every_image_with_its_shape(tmp_path):
    from vaekit.data.disk.bundle import refuse_format

    from .helpers import write_image

    for i in range(9):
        write_image(tmp_path / "img" / f"{i}.png", size=(3, 4), seed=i)
    with pytest.raises(DataError, match=r"b = load_data\(folder, hold_out=False\); numpy.save\('images.npy', "
                                        r"b.train.numpy\(\).reshape\(-1, \*b.shape\)\)") as refused:  # fmt: skip
        refuse_format(str(tmp_path / "img"), ())
    b = load_data(str(tmp_path / "img"), hold_out=False)  # the message's own recipe
    stack = b.train.numpy().reshape(-1, *b.shape)
    assert "folder" in str(refused.value) and stack.shape == (9, 1, 3, 4) and stack.dtype == np.uint8


def test_a_copy_made_by_another_text_reader_is_not_reused(tmp_path, monkeypatch):
    from vaekit.data.disk.npy import sampled_fingerprint
    from vaekit.data.tables import read as read_module

    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    pd.DataFrame({"postcode": ["01067", "10115", "80331"] * 10, "x": np.arange(30.0)}).to_csv(tmp_path / "t.csv", index=False)
    fingerprint = sampled_fingerprint(tmp_path / "t.csv")
    # A copy as a reader without a version in the name left it: the postcodes read as numbers.
    older = convert.cache_dir() / f"t.csv-{fingerprint[:16]}.parquet"
    older.parent.mkdir(parents=True)
    write_parquet(older, pd.DataFrame({"postcode": [1067, 10115, 80331] * 10, "x": np.arange(30.0)}), 30)
    said: list[str] = []
    parquet, _ = converted_parquet(tmp_path / "t.csv", say=said.append)
    assert parquet != older and said[0].startswith("converted")
    assert read_table(parquet)["postcode"].iloc[0] == "01067"
    monkeypatch.setattr(read_module, "TEXT_READER_VERSION", read_module.TEXT_READER_VERSION + 1)
    again, _ = converted_parquet(tmp_path / "t.csv", say=said.append)
    assert again != parquet and said[1].startswith("converted")  # a changed reader converts again


DAMAGED = (
    r"row group 2 \(counted from 0, of 4; rows 201-300\) cannot be read \(Couldn't deserialize thrift: "
    r"don't know what type: Deserializing page header failed\.\): "
)


@pytest.mark.parametrize("lean_footer", [False, True])
def test_a_damaged_row_group_is_refused_in_one_line_naming_it_and_its_rows(tmp_path, monkeypatch, lean_footer):
    from vaekit.data.disk import parquet_footer

    if lean_footer:  # the row group is then read through a footer of its own
        monkeypatch.setattr(parquet_footer, "LEAN_FOOTER_BYTES", 1)
    path = write_parquet(tmp_path / "t.parquet", table(400), 100)
    damage_row_group(path, 2)
    with pytest.raises(DataError, match=f"t\\.parquet: {DAMAGED}the file is damaged; write it again from its source$") as refused:
        open_disk_data(str(path), OPTIONS)
    assert "\n" not in str(refused.value)


def test_a_damaged_row_group_first_read_in_training_is_refused_naming_it(tmp_path):
    # A run resumed on a file damaged since: its codec is known, so the row group is first read for a batch.
    path = write_parquet(tmp_path / "t.parquet", table(400), 100)
    first = open_disk_data(str(path), OPTIONS)
    damage_row_group(path, 2)
    resumed = LoadOptions(test_fraction=0.2, seed=0, codec=first.table)
    lazy = open_disk_data(str(path), resumed, recorded=first.data_file)
    with pytest.raises(DataError, match=f"t\\.parquet: {DAMAGED}the file is damaged"):
        lazy.train[: len(lazy.train)]


def test_a_damaged_row_group_of_a_converted_copy_says_to_delete_the_copy(tmp_path):
    path = write_parquet(tmp_path / "copy.parquet", table(400), 100)
    damage_row_group(path, 2)
    rows = ParquetRows(path)
    rows.source = "t.csv"
    with pytest.raises(DataError, match=f"t\\.csv: its Parquet copy .*copy\\.parquet: {DAMAGED}the copy is damaged; delete it"):
        rows.load_block(2)


def csv_and_its_copy(tmp_path, monkeypatch, frame, name="t.csv"):
    """``frame`` written as the CSV ``name`` under a cache of this test's own; return the CSV's
    path and where its Parquet copy goes (that folder made, the copy not)."""
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / name
    frame.to_csv(path, index=False)
    target = convert.converted_path(path, sampled_fingerprint(path))
    target.parent.mkdir(parents=True)
    return path, target


def test_a_csv_is_converted_by_one_process_while_another_waits_and_reuses_its_copy(tmp_path, monkeypatch):
    path, target = csv_and_its_copy(tmp_path, monkeypatch, table(120))
    said: list[str] = []
    copies: list[convert.ParquetCopy] = []
    with convert._conversion_lock(path, target):  # as another process converting it holds it
        waiter = threading.Thread(target=lambda: copies.append(convert.parquet_copy(path, say=said.append)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and not said and not target.exists()  # it waits, converting nothing
        convert._convert(path, target, 1024)
    waiter.join(30)
    assert copies == [convert.ParquetCopy(target, sampled_fingerprint(path), False)]
    assert said == [
        f"reading {path} from its Parquet copy {target} (--data-loading disk reads tables by row groups, which a text "
        "file lacks; converted by another process just now)"
    ]
    assert not convert.lock_path(target).exists()


def test_a_waiting_process_refused_after_another_converted_keeps_that_copy(tmp_path, monkeypatch):
    frame = table(120).astype({"k": object})
    frame.loc[7, "k"] = "seven"
    path, target = csv_and_its_copy(tmp_path, monkeypatch, frame, "mixed.csv")
    refused: list[Exception] = []

    def refuse() -> None:
        try:
            open_disk_data(str(path), OPTIONS)
        except DataError as exc:
            refused.append(exc)

    with convert._conversion_lock(path, target):
        waiter = threading.Thread(target=refuse)
        waiter.start()
        waiter.join(1.0)
        convert._convert(path, target, 1024)  # the copy another run (declaring k categorical) reads
    waiter.join(30)
    assert "mixes numbers and text" in str(refused[0]) and target.is_file()


def test_a_lock_file_left_by_a_dead_converter_does_not_stop_a_conversion(tmp_path, monkeypatch):
    path, target = csv_and_its_copy(tmp_path, monkeypatch, table(120))
    convert.lock_path(target).write_text("")  # its flock went with its process
    said: list[str] = []
    assert converted_parquet(path, say=said.append)[0] == target and said[0].startswith("converted")
    assert not convert.lock_path(target).exists()


def test_two_processes_converting_one_csv_at_once_convert_it_once(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.csv"
    table(5000).to_csv(path, index=False)
    script = (
        "import sys; from pathlib import Path; from vaekit.data.disk.convert import parquet_copy; "
        "print(parquet_copy(Path(sys.argv[1]), say=lambda line: None).made)"
    )
    env = {**os.environ, "VAEKIT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    made = sorted(run.communicate(timeout=120)[0].strip() for run in runs)
    assert made == ["False", "True"] and len(list((tmp_path / "cache").rglob("*.parquet"))) == 1
