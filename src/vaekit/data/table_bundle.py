"""A typed table (CSV/TSV/Parquet file or pandas DataFrame) as a ``DataBundle``: read, given
its schema, split, and encoded by a codec fitted on the training rows only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.data.bundle import DataBundle
from vaekit.data.holdout import split_indices
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError

#: file types read (and written) as typed tables
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def declared_kinds(options: LoadOptions) -> dict[str, str]:
    """Return the kinds the user set: ``options.schema`` (a file) overridden by
    ``options.column_types``, and the ``options.ignore`` columns as "ignore"."""
    from vaekit.data.tables import read_schema_file

    kinds: dict[str, str] = {}
    if options.schema is not None:
        kinds.update(read_schema_file(options.schema))
    kinds.update(options.column_types or {})
    kinds.update(dict.fromkeys(options.ignore or (), "ignore"))
    return kinds


def table_schema(frame: Any, options: LoadOptions) -> Any:
    """Return the ``TableSchema`` of ``frame``: inferred, with the kinds of ``options.schema``
    (a file) overridden by ``options.column_types`` and the ``options.ignore`` columns left out.
    Warns (``VaekitWarning``, once) of the columns inference left out or may have misread."""
    import warnings

    from vaekit.data.tables import infer_schema, read_schema_file
    from vaekit.data.tables.infer import inference_notice
    from vaekit.runtime.errors import VaekitWarning, user_stacklevel

    kinds: dict[str, str] = {}
    if options.schema is not None:
        kinds.update(read_schema_file(options.schema))
    kinds.update(options.column_types or {})
    schema = infer_schema(frame, kinds=kinds or None, ignore=tuple(options.ignore or ()))
    notice = inference_notice(frame, schema)
    if notice:
        warnings.warn(notice, VaekitWarning, stacklevel=user_stacklevel())
    return schema


def codec_for(train_rows: Any, schema: Any, options: LoadOptions) -> Any:
    """Return the codec to encode with: the given one (``options.codec``), or one fitted on the
    training rows with ``schema``, the schema of the whole table (so categories seen only among
    the test rows are known)."""
    from vaekit.data.tables import TableCodec

    if options.codec is not None:
        return TableCodec.from_dict(dict(options.codec))
    return TableCodec.fit(
        train_rows,
        schema,
        continuous=options.continuous,
        condition_on=tuple(options.condition_on or ()),
        seed=options.seed,
    )


def encoded(codec: Any, rows: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return ``(x, labels)`` of ``rows``: float32 ``[N, codec.width]`` and int64 joint
    condition indices (None without conditioning)."""
    x = torch.from_numpy(np.ascontiguousarray(codec.encode(rows), dtype=np.float32))
    labels = codec.labels(rows)
    return x, None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))


def bundle_from_frame(name: str, frame: Any, options: LoadOptions) -> DataBundle:
    """Return the table ``frame`` (a DataFrame as read) as a seeded train/test ``DataBundle``
    of kind "table": its rows encoded by a codec fitted on the training rows (value slots, then
    mask slots), the fitted codec in ``bundle.table`` and the rows as read in ``bundle.frames``."""
    from vaekit.data.tables.cells import FileRows

    # The schema first: its checks (one row, an empty column, mixed types) say more than a split would.
    schema = table_schema(frame, options) if options.codec is None else None
    held_out = options.test_fraction if options.hold_out else 0.0
    train_idx, test_idx = split_indices(len(frame), held_out, options.seed, name, allow_no_test=True)
    train_rows = frame.iloc[train_idx].reset_index(drop=True)
    test_rows = frame.iloc[test_idx].reset_index(drop=True)
    # A bad cell found while encoding a split is named by its row in the file, not in the split.
    train_rows.attrs["vaekit_file_rows"] = FileRows(train_idx)
    test_rows.attrs["vaekit_file_rows"] = FileRows(test_idx)
    codec = codec_for(train_rows, schema, options)
    x_train, y_train = encoded(codec, train_rows)
    x_test, y_test = encoded(codec, test_rows)
    return DataBundle(
        name=name,
        train=x_train,
        test=x_test,
        shape=(codec.width,),
        kind="table",
        value_range="table",
        train_labels=y_train,
        test_labels=y_test,
        table=codec.to_dict(),
        frames=(train_rows, test_rows),
        file_rows=(np.asarray(train_idx, dtype=np.int64), np.asarray(test_idx, dtype=np.int64)),
    )


def read_table_file(path: Path, options: LoadOptions) -> DataBundle:
    """Return the ``.csv``/``.tsv``/``.parquet`` table at ``path`` as a typed ``DataBundle``."""
    from vaekit.data.tables import read_table

    if options.table_mode == "matrix":
        raise DataError(f"{path}: table_mode 'matrix' reads .csv/.tsv files of numbers only; use table_mode 'schema'")
    from vaekit.data.tables.read import conform_digits, declared_as_text, saved_as_text

    # Whole numbers of a text file are typed as the run's schema read them (codes with a
    # leading zero as text), or as the user's kinds ask (a code declared categorical as written).
    if options.codec is not None:
        as_text = saved_as_text(codec_for(None, None, options).schema)
    else:
        as_text = declared_as_text(declared_kinds(options))
    frame = read_table(path, text_columns=[name for name, text in as_text.items() if text])
    return bundle_from_frame(str(path), conform_digits(frame, as_text), options)


def read_data_frame(frame: Any, options: LoadOptions) -> DataBundle:
    """Return a pandas DataFrame as a typed ``DataBundle`` named "DataFrame"."""
    from vaekit.data.tables import read_table

    return bundle_from_frame("DataFrame", read_table(frame), options)
