"""``open_disk_data``: a data file as a ``LazyBundle`` whose splits stay in the file.

The bundle is the one ``load_data`` would return for the same file and options (the same
test rows, the same shape, value range, grey levels and, for a table, the same schema and codec
when the table has at most ``sample_size(columns)`` rows), except that its train and test examples are
``RowView``s: file rows, read when indexed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.data.disk.blocks import BlockLayout
from vaekit.data.disk.convert import TEXT_SUFFIXES, parquet_copy
from vaekit.data.disk.npy import NpyRows, sampled_fingerprint
from vaekit.data.disk.parquet import ParquetRows, sample_size
from vaekit.data.disk.rows import RowView
from vaekit.data.holdout import split_indices
from vaekit.data.options import LoadOptions
from vaekit.data.registry import resolve_name
from vaekit.data.suffixes import table_suffix
from vaekit.data.validate import check_test_fraction
from vaekit.runtime.errors import DataError
from vaekit.runtime.memory import map_large_allocations

#: file suffixes read from disk batch by batch (text tables through a Parquet copy)
DISK_SUFFIXES = (".npy", ".parquet", ".pq", *TEXT_SUFFIXES)


@dataclass(repr=False)
class LazyBundle:
    """A dataset whose examples stay in their file: what ``bind_to_data`` and
    ``views.make_splits`` read of a ``DataBundle`` (``train``/``test`` as ``RowView``s)."""

    name: str
    train: RowView
    test: RowView
    shape: tuple[int, ...]
    kind: str
    value_range: str
    levels: int | None
    #: a table's codec (``TableCodec.to_dict()``); None otherwise
    table: dict[str, Any] | None
    #: what the run records of the file (see ``data_file_record``)
    data_file: dict[str, Any]
    #: the file's blocks: a Parquet file's row groups, else blocks of ``block_rows_for`` rows
    layout: BlockLayout
    frames: None = None
    #: files read from disk have no class folders, so no class names
    class_names: None = None

    @property
    def train_labels(self) -> RowView | None:
        """The training rows' labels (int64 joint condition indices of a table), or None."""
        return self.train.labels()

    @property
    def test_labels(self) -> RowView | None:
        """The test rows' labels (int64 joint condition indices of a table), or None."""
        return self.test.labels()

    @property
    def dim(self) -> int:
        """Number of features D of one flattened example."""
        return int(self.train.shape[1])

    @property
    def num_classes(self) -> int | None:
        """Label classes: a table's joint condition values (None without; ``.npy`` files have no labels)."""
        if self.table is None or not self.table.get("condition_on"):
            return None
        return len(self.table["condition_counts"])

    def __repr__(self) -> str:
        return (
            f"LazyBundle(name={self.name!r}, train={len(self.train)} rows, test={len(self.test)} rows in "
            f"{self.data_file.get('read_from', self.name)}, shape={self.shape}, kind={self.kind!r})"
        )


def streams(spec: Any) -> bool:
    """True when ``spec`` names a file ``open_disk_data`` reads (``.npy``, ``.parquet``/``.pq``,
    ``.csv``/``.tsv``)."""
    return isinstance(spec, (str, os.PathLike)) and table_suffix(Path(spec)) in DISK_SUFFIXES


def refuse_format(spec: Any, registered: tuple[str, ...]) -> None:
    """Raise ``DataError`` for data ``--data-loading disk`` cannot read, saying which formats
    it reads and how to get there from this one."""
    reads = "--data-loading disk reads .npy, .parquet/.pq and .csv/.tsv files (a text table through a Parquet copy)"
    if type(spec).__name__ == "DataFrame":
        raise DataError(
            f"{reads}, not a DataFrame held in memory; write it to a file, e.g. "
            "frame.to_parquet('table.parquet', row_group_size=65536), and train from that file"
        )
    name = os.fspath(spec)
    path = Path(name).expanduser()
    if name in registered:
        raise DataError(f"{reads}; the dataset {name!r} fits in memory: leave --data-loading at memory (or streaming)")
    if path.is_dir():
        raise DataError(
            f"{reads}; {name} is a folder (of images or IDX files): read it once into an array and save it as "
            "a .npy stack of images, e.g. from vaekit.data import load_data; b = load_data(folder, hold_out=False); "
            "numpy.save('images.npy', b.train.numpy().reshape(-1, *b.shape)) (every image, uint8 [N, C, H, W], "
            "which keeps 8-bit images as grey levels), then train from the .npy"
        )
    suffix = table_suffix(path)
    if suffix == ".npz":
        raise DataError(
            f"{reads}; {name} is a .npz archive, which cannot be memory-mapped: save its examples as .npy, e.g. "
            f"numpy.save('x.npy', numpy.load({name!r})['x']) (labels are not read from disk)"
        )
    if not path.exists():
        raise DataError(f"{name!r} is neither a dataset name ({', '.join(registered)}) nor an existing file or folder")
    raise DataError(f"{reads}; {name} is a {suffix or 'file without a suffix'}: convert it to one of those")


def sample_rows(n_rows: int, limit: int, seed: int) -> np.ndarray:
    """Return the file rows (int64, ascending) of a seeded sample of at most ``limit`` of
    ``n_rows`` rows: every row when there are that few."""
    if n_rows <= limit:
        return np.arange(n_rows, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_rows, limit, replace=False)).astype(np.int64)


def open_disk_data(
    spec: str | os.PathLike[str],
    options: LoadOptions,
    *,
    window: int = 4,
    recorded: dict[str, Any] | None = None,
    value_range: str | None = None,
    say: Callable[[str], None] | None = None,
) -> LazyBundle:
    """Return the data file ``spec`` as a ``LazyBundle`` (see the module), with the test split
    and, for a table, the codec that ``load_data(spec, **options)`` would give.

    ``recorded`` is what a run recorded of its file (``LazyBundle.data_file``): when it names
    this file, the file must be unchanged (``DataError`` naming what changed, otherwise), and a
    ``.npy`` file's values are not checked again when ``value_range`` (as recorded) is given.
    ``window`` is the shuffle window, in row groups (a Parquet file's row groups must fit it).
    ``say`` receives the line a CSV conversion prints. Raises ``DataError`` for a format that
    is not read from disk (naming those that are) and for every bad input ``load_data`` refuses.
    Fixes the C allocator's mapping threshold for the process (``map_large_allocations``), so
    that memory stays flat however many batches are read."""
    name = os.fspath(spec)
    path = Path(name).expanduser()
    suffix = table_suffix(path)
    if suffix not in DISK_SUFFIXES or not path.is_file():
        from vaekit.data.registry import available_datasets

        refuse_format(spec, tuple(available_datasets()))
    # Batches and blocks of megabytes come and go from here on: see map_large_allocations.
    map_large_allocations()
    mine = recorded if recorded is not None and recorded.get("path") == name else None
    if suffix == ".npy":
        check_test_fraction(options.test_fraction)
        return _npy_bundle(name, path, options, mine, value_range)
    check_test_fraction(options.test_fraction, allow_zero=True)
    if options.table_mode == "matrix":
        if suffix in TEXT_SUFFIXES:
            raise DataError(
                f"{name}: --table-mode matrix reads a whole CSV into memory; with --data-loading disk save the "
                "matrix as .npy (numpy.save) or read the file as a typed table (--table-mode schema)"
            )
        raise DataError(
            f"{name}: --table-mode matrix reads .csv/.tsv files of numbers only; a Parquet file is read as a typed "
            "table: leave out --table-mode (or give --table-mode schema)"
        )
    if suffix in TEXT_SUFFIXES:
        return _text_bundle(name, path, options, mine, window, say)
    table = ParquetRows(path)
    return _table_bundle(name, table, options, mine, window, fmt="parquet", fingerprint=parquet_fingerprint(table))


def _text_bundle(
    name: str,
    path: Path,
    options: LoadOptions,
    recorded: dict[str, Any] | None,
    window: int,
    say: Callable[[str], None] | None,
) -> LazyBundle:
    """Return the text table ``path`` as a ``LazyBundle`` read from its Parquet copy. A changed
    file is refused before it is converted, and a copy made now is removed when the table is
    then refused (a type error, a bad cell): no copy is left that no run reads."""
    fingerprint = sampled_fingerprint(path)
    if recorded is not None and recorded.get("fingerprint") != fingerprint:
        check_unchanged({"path": name, "rows": None, "row_groups": None, "fingerprint": fingerprint}, recorded)
    lines: list[str] = []
    copy = parquet_copy(path, say=lines.append)
    table = ParquetRows(copy.path)
    table.source = name
    try:
        bundle = _table_bundle(name, table, options, recorded, window, fmt=table_suffix(path)[1:], fingerprint=copy.fingerprint)
    except DataError:
        # Only the process that made the copy removes it: another may be reading a copy it reused.
        if copy.made:
            copy.path.unlink(missing_ok=True)
        raise
    for line in lines:
        (say or (lambda text: print(text, file=sys.stderr)))(line)
    return bundle


def parquet_fingerprint(table: ParquetRows) -> str:
    """Return a SHA-256 (hex) of a Parquet file's size and footer (its row groups' sizes,
    offsets and column statistics: rewritten data changes them)."""
    import hashlib

    size = table.path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(table.path, "rb") as f:
        f.seek(max(0, size - 8))
        tail = f.read(8)
        footer = int.from_bytes(tail[:4], "little") + 8 if tail[4:] == b"PAR1" else 0
        f.seek(max(0, size - footer))
        # A large file's footer is tens of MB: hashed a piece at a time, never held whole.
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def data_file_record(name: str, fmt: str, layout: BlockLayout, fingerprint: str, read_from: Path) -> dict[str, Any]:
    """Return what a run records of its data file: enough to say what changed, and where it was
    read from (absolute for a file: ``--out`` checks from another folder still find the
    training data; a dataset's name as given)."""
    return {
        "path": name,
        "format": fmt,
        "read_from": _where_read(name, read_from),
        "rows": layout.n_rows,
        "row_groups": layout.n_blocks,
        "layout_sha256": layout.digest(),
        "fingerprint": fingerprint,
    }


def _where_read(name: str, read_from: Path) -> str:
    """Return ``read_from`` as a run records it: absolute for a file or folder it read, as given
    for a bundled dataset's name (read by name, whatever file or folder of that name is here)."""
    if resolve_name(name) is None and Path(read_from).exists():
        return os.path.abspath(read_from)
    return str(read_from)


def check_unchanged(record: dict[str, Any], recorded: dict[str, Any] | None) -> None:
    """Raise ``DataError`` when a run's data file (``recorded`` when the run began) is not the
    file ``record`` describes now (its ``rows`` and ``row_groups`` None when not counted)."""
    if recorded is None or recorded.get("fingerprint") == record["fingerprint"]:
        return
    then = f"{recorded.get('rows', '?'):,} rows in {recorded.get('row_groups', '?'):,} row group(s)"
    if record["rows"] is None:  # a text file refused before it is read: its rows are not counted
        what = f"it had {then}; its size or content differs now"
    else:
        now = f"{record['rows']:,} rows in {record['row_groups']:,} row group(s)"
        what = f"it had {then}, it has {now}" if then != now else f"its content differs ({then} both times)"
    raise DataError(
        f"{record['path']} changed since this run started ({what}; fingerprint {recorded.get('fingerprint', '')[:12]} "
        f"then, {record['fingerprint'][:12]} now): the run's epochs and splits are defined by that file, so it "
        "cannot go on with another; put the original file back, or train a new run on this one (vaekit train --force)"
    )


def check_recorded_file(name: str, recorded: dict[str, Any] | None) -> None:
    """Raise ``DataError`` (as ``check_unchanged``) when the data file ``name`` is not the one
    a run recorded (``recorded``, when it names this file), before reading its rows: a Parquet
    file by its footer, any other file (a text table, ``.npy``) by its sampled fingerprint. A file that is not there is
    left to its reader, whose message says so."""
    path = Path(name).expanduser()
    if recorded is None or recorded.get("path") != name or not path.is_file():
        return
    if table_suffix(path) in (".parquet", ".pq"):
        table = ParquetRows(path)
        record = data_file_record(name, "parquet", table.layout, parquet_fingerprint(table), path)
    else:
        record = {"path": name, "rows": None, "row_groups": None, "fingerprint": sampled_fingerprint(path)}
    check_unchanged(record, recorded)


def _split_views(
    source: Any, n_rows: int, options: LoadOptions, name: str, allow_no_test: bool
) -> tuple[RowView, RowView]:
    """Return the train and test views of a file's rows, split as ``load_data`` splits them
    (``split_indices`` with the options' seed, then at most ``options.n`` training rows)."""
    train_idx, test_idx = split_indices(
        n_rows, options.test_fraction, options.seed, name, allow_no_test=allow_no_test, compact=True
    )
    if options.n is not None:
        train_idx = train_idx[: options.n]
    return RowView(source, train_idx), RowView(source, test_idx)


def _npy_bundle(
    name: str, path: Path, options: LoadOptions, recorded: dict[str, Any] | None, value_range: str | None
) -> LazyBundle:
    rows = NpyRows(path)
    layout = rows.layout
    record = data_file_record(name, "npy", layout, rows.fingerprint(), path)
    check_unchanged(record, recorded)
    if recorded is None or value_range is None:
        value_range = rows.scan()
    train, test = _split_views(rows, rows.n_rows, options, name, allow_no_test=False)
    return LazyBundle(
        name=name, train=train, test=test, shape=rows.shape, kind=rows.kind, value_range=value_range,
        levels=rows.levels, table=None, data_file=record, layout=layout,
    )  # fmt: skip


def _table_bundle(
    name: str,
    table: ParquetRows,
    options: LoadOptions,
    recorded: dict[str, Any] | None,
    window: int,
    *,
    fmt: str,
    fingerprint: str,
) -> LazyBundle:
    record = data_file_record(name, fmt, table.layout, fingerprint, table.path)
    check_unchanged(record, recorded)
    train_idx, test_idx = split_indices(table.n_rows, options.test_fraction, options.seed, name, allow_no_test=True, compact=True)
    table.codec = _codec(name, table, options, train_idx)
    table.check_layout(window)
    _check_conditions(name, table.codec)
    train, test = RowView(table, train_idx if options.n is None else train_idx[: options.n]), RowView(table, test_idx)
    return LazyBundle(
        name=name, train=train, test=test, shape=(table.codec.width,), kind="table", value_range="table",
        levels=None, table=table.codec.to_dict(), data_file=record, layout=table.layout,
    )  # fmt: skip


def _codec(name: str, table: ParquetRows, options: LoadOptions, train_idx: np.ndarray) -> Any:
    """Return the run's codec (``options.codec``), or one fitted as the module of
    ``vaekit.data.disk.parquet`` says: schema and codec on a seeded sample, the schema
    completed by a pass over a larger table."""
    from vaekit.data.table_bundle import codec_for, table_schema
    from vaekit.data.tables import TableCodec
    from vaekit.data.tables.infer import complete_schema

    if options.codec is not None:
        return TableCodec.from_dict(dict(options.codec))
    sample = sample_rows(table.n_rows, sample_size(len(table.file.schema_arrow.names)), options.seed)
    frame = table.frame_of(sample)
    frame.attrs.update(vaekit_source=name, vaekit_rows=len(frame))
    schema = table_schema(frame, options)
    if len(sample) < table.n_rows:
        columns = [c.name for c in schema.columns if c.kind != "ignore"]
        schema = complete_schema(schema, table.groups(columns), sample_rows=len(sample))
    fit_rows = frame.iloc[np.flatnonzero(np.isin(sample, train_idx))].reset_index(drop=True)
    return codec_for(fit_rows, schema, options)


def _check_conditions(name: str, codec: Any) -> None:
    """Refuse condition columns with missing cells now, not when their batch is read."""
    for column in codec.condition_on:
        missing = codec.schema.column(column).missing
        if missing:
            raise DataError(
                f"{name}: condition column {column!r} has {missing:,} missing cell(s); a condition needs a value "
                "in every row: fill them in, drop those rows, or do not condition on it"
            )
