"""The data a run config names: loaded, recorded in the config, and split as the run splits it.

The config-aware side of ``vaekit.data.views`` (which takes plain values): the training loop,
the API and the diagram of a preset read the run's data through these.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.config import RunConfig
from vaekit.data import DataBundle, load_data, views
from vaekit.data.disk import BlockLayout, BlockShuffle, LazyBundle, block_rows_for, is_lazy, open_disk_data
from vaekit.data.disk.bundle import (
    TEXT_SUFFIXES,
    check_recorded_file,
    check_unchanged,
    data_file_record,
    parquet_fingerprint,
)
from vaekit.data.disk.folder import check_folder, is_image_folder, record_folder
from vaekit.data.disk.npy import sampled_fingerprint
from vaekit.data.options import LoadOptions
from vaekit.data.registry import resolve_name
from vaekit.data.suffixes import table_suffix
from vaekit.data.views import Splits
from vaekit.runtime.errors import ConfigError, DataError

#: the data name of a run trained on a pandas DataFrame in Python (no file to read again)
DATA_FRAME = "DataFrame"


def table_mode(config: RunConfig) -> str:
    """Return how the run reads a .csv/.tsv file: as configured, except that a run bound to a
    CSV before tables had schemas (no codec recorded) keeps reading it as a matrix of numbers."""
    d = config.data
    legacy = config.input_shape is not None and config.table is None and d.name.lower().endswith((".csv", ".tsv"))
    return "matrix" if legacy else d.table_mode


def is_table_file(name: str) -> bool:
    """True when ``name`` is a file read as a typed table (.csv/.tsv/.parquet/.pq, compressed too)."""
    return table_suffix(Path(name)) in (*TEXT_SUFFIXES, ".parquet", ".pq")


def shuffle_of(config: RunConfig) -> str:
    """Return how the run's epochs are ordered, "full" or "blocks": ``data.shuffle``, where
    "auto" means blocks for a table read from disk (by row groups) and full otherwise."""
    d = config.data
    if d.shuffle != "auto":
        return d.shuffle
    disk_table = config.train.data_loading == "disk" and is_table_file(d.name) and table_mode(config) == "schema"
    return "blocks" if disk_table else "full"


def load_bundle(
    config: RunConfig, frame: Any = None, *, lazy: bool | None = None, hold_out: bool = True
) -> DataBundle | LazyBundle:
    """Load the dataset ``config.data`` names (or the DataFrame ``frame``); a run bound to a
    table encodes it with the run's own codec. With ``train.data_loading: disk`` (or ``lazy``)
    the data stay in the file: a ``LazyBundle`` whose splits are read batch by batch (a run
    that recorded its file refuses a changed one). A run that recorded its folder of images
    refuses another one of that name, or a changed one (``DataError``, before any image is read):
    its split is drawn from the folder's images. ``hold_out=False`` reads a file with no split
    of its own whole, in its order, as training rows (in memory only; any folder's images)."""
    d = config.data
    if lazy if lazy is not None else config.train.data_loading == "disk":
        return _disk_bundle(config, frame)
    if frame is None and d.name == DATA_FRAME:
        raise DataError(
            "this run was trained on a pandas DataFrame in Python, which is not stored in the run folder; "
            "pass it again (vaekit.resume(run, data=frame)) or train from a .csv/.parquet file"
        )
    if frame is None and hold_out:
        # The run's split is drawn from its file's rows or its folder's images: another file or
        # folder of that name would put training examples in the test split.
        folder = check_folder(d.name, config.data_file)
        check_recorded_file(d.name, config.data_file)
    else:
        folder = None
    bundle = load_data(
        d.name if frame is None else frame,
        image_size=d.image_size,
        data_dir=d.data_dir,
        download=d.download,
        test_fraction=d.test_fraction,
        seed=0,
        n=d.limit,
        table_mode=table_mode(config),
        schema=d.schema,
        column_types=d.column_types,
        ignore=d.ignore,
        condition_on=d.condition_on,
        continuous=d.continuous,
        codec=config.table,
        hold_out=hold_out,
        # A run on colour images reads a grey folder as it was trained to: three equal channels.
        channels=config.input_shape[0] if config.input_shape and len(config.input_shape) == 3 else None,
    )
    # The folder's record, just checked, is what bind_to_data records: no second pass over its images.
    return bundle if folder is None else dataclasses.replace(bundle, data_file=folder)


def _disk_bundle(config: RunConfig, frame: Any) -> LazyBundle:
    """The run's data file opened for reading batch by batch (``vaekit.data.disk``)."""
    from vaekit.data.disk.bundle import refuse_format
    from vaekit.data.registry import available_datasets

    d = config.data
    if frame is not None:
        refuse_format(frame, tuple(available_datasets()))
    if d.image_size is not None:
        raise DataError(f"{d.name}: --image-size applies only to images; leave it out for files")
    # A table read as a matrix is refused by open_disk_data, whatever the shuffle.
    if shuffle_of(config) == "full" and is_table_file(d.name) and table_mode(config) == "schema":
        raise ConfigError(
            f"{d.name}: --data-loading disk reads a table by row groups, and a full shuffle would decode a row group "
            "for every row; use --shuffle blocks (or auto, the default)"
        )
    options = LoadOptions(
        test_fraction=d.test_fraction, seed=0, n=d.limit, table_mode=table_mode(config), schema=d.schema,
        column_types=d.column_types, ignore=d.ignore, condition_on=d.condition_on, continuous=d.continuous,
        codec=config.table,
    )  # fmt: skip
    return open_disk_data(
        d.name, options, window=d.shuffle_window, recorded=config.data_file, value_range=config.value_range
    )


def bind_to_data(config: RunConfig, bundle: DataBundle) -> None:
    """Record the data's shape and value range in the config (as binarised, if asked), and a
    table's codec; a table's label classes are the joint values of its condition columns."""
    config.input_shape = list(bundle.shape)
    binarized = config.data.binarize != "none"
    config.value_range = "binary" if binarized else bundle.value_range
    config.levels = 2 if binarized else bundle.levels
    config.num_classes = bundle.num_classes
    config.class_names = list(bundle.class_names) if bundle.class_names else None
    config.table = bundle.table
    config.data_file = _data_file(config, bundle)
    if bundle.table is not None:
        from vaekit.data.tables import TableCodec

        config.num_classes = TableCodec.from_dict(bundle.table).num_conditions or None
        if binarized or config.data.dequantize != "none":
            raise ConfigError("--binarize and --dequantize apply to images; leave them out for a table")


def make_splits(config: RunConfig, bundle: DataBundle | LazyBundle) -> Splits:
    """Split ``bundle`` as the run ``config`` does: its validation fraction carved with the
    run's seed, its binarisation and dequantisation (see ``vaekit.data.views.make_splits``)
    and, under ``shuffle: blocks``, the block shuffle of its training rows (the validation rows
    then keep the file's order, so that a pass over them reads the file front to back)."""
    blocks = shuffle_of(config) == "blocks"
    splits = views.make_splits(
        bundle,
        val_fraction=config.data.val_fraction,
        seed=config.train.seed,
        binarize=config.data.binarize,
        dequantize=config.data.dequantize,
        val_in_file_order=blocks,
    )
    if blocks:
        splits.blocks = BlockShuffle.of_rows(_train_file_rows(config, bundle, splits), block_layout(config, bundle),
                                             config.data.shuffle_window)  # fmt: skip
    return splits


def _train_file_rows(config: RunConfig, bundle: DataBundle | LazyBundle, splits: Splits) -> np.ndarray:
    """Return the file rows of the training split's examples, in its order."""
    if is_lazy(splits.train):
        return splits.train.rows.numpy()
    rows = bundle.file_rows[0] if bundle.file_rows is not None else np.arange(len(bundle.train))
    carved = views.carve_validation(len(rows), config.data.val_fraction, config.train.seed, True)
    return rows if carved is None else rows[carved[1].numpy()]


def block_layout(config: RunConfig, bundle: DataBundle | LazyBundle) -> BlockLayout:
    """Return the blocks of the run's data: a Parquet file's row groups; else blocks of
    ``block_rows_for(columns)`` rows (a CSV/TSV file's columns, the values of an example
    otherwise), as the Parquet copy of a text file has them; datasets with their own split are
    cut in their stored order."""
    if isinstance(bundle, LazyBundle):
        return bundle.layout
    name = config.data.name
    if table_suffix(Path(name)) in (".parquet", ".pq") and Path(name).is_file():
        from vaekit.data.disk import ParquetRows

        return ParquetRows(name).layout
    columns = bundle.frames[0].shape[1] if bundle.frames is not None else bundle.dim
    rows = bundle.file_rows
    n = int(max(rows[0].max(initial=-1), rows[1].max(initial=-1)) + 1) if rows is not None else len(bundle.train)
    return BlockLayout.fixed(n, block_rows_for(columns))


def _data_file(config: RunConfig, bundle: DataBundle | LazyBundle) -> dict[str, Any] | None:
    """Return what the run records of its data file: always when it is read from disk or is
    one file, and when its epochs follow the block shuffle (whose order depends on the file's
    layout); a run that recorded one refuses a changed file (``DataError``): its splits, and
    so which rows it trained on, are drawn from the file's rows. A folder of images is recorded
    too (``vaekit.data.disk.folder``): its split is drawn from its images."""
    if isinstance(bundle, LazyBundle):
        return bundle.data_file
    name = config.data.name
    if bundle.kind == "image" and resolve_name(name) is None and is_image_folder(Path(name).expanduser()):
        if bundle.data_file is not None and bundle.data_file.get("path") == name:
            return bundle.data_file
        return record_folder(name, config.data_file)
    if shuffle_of(config) != "blocks" and not Path(name).is_file():
        return None
    path = Path(name)
    layout = block_layout(config, bundle)
    suffix = table_suffix(path)
    if not path.is_file():
        fingerprint, fmt = "", "dataset"
    elif suffix in (".parquet", ".pq"):
        from vaekit.data.disk import ParquetRows

        fingerprint, fmt = parquet_fingerprint(ParquetRows(path)), "parquet"
    else:
        fingerprint, fmt = sampled_fingerprint(path), suffix.lstrip(".") or "file"
    record = data_file_record(name, fmt, layout, fingerprint, path)
    recorded = config.data_file
    check_unchanged(record, recorded if recorded is not None and recorded.get("path") == name else None)
    return record
