"""``load_data``: one entry point from a dataset name or path to a ready ``DataBundle``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from vaekit.data.bundle import DataBundle
from vaekit.data.images import is_image_path
from vaekit.data.options import LoadOptions
from vaekit.data.registry import (
    DATASETS,
    FILE_READERS,
    available_datasets,
    read_folder,
    resolve_name,
)
from vaekit.data.suffixes import compression_suffix, table_suffix
from vaekit.data.table_bundle import TABLE_SUFFIXES, read_data_frame
from vaekit.data.validate import check_test_fraction
from vaekit.runtime.errors import DataError, VaekitWarning, user_stacklevel


def read_path(spec: str, options: LoadOptions) -> DataBundle:
    """Return the dataset stored at the file or folder ``spec`` (dispatched on its suffix, or
    on being a folder); the bundle's name is ``spec`` as given."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(
            f"{spec!r} is neither a dataset name ({', '.join(available_datasets())}) nor an existing file or folder"
        )
    if options.image_size is not None and not is_image_path(path):
        raise DataError(f"{spec}: --image-size applies only to images; leave it out for files")
    if path.is_dir():
        bundle = read_folder(path, options)
    else:
        suffix = path.suffix.lower()
        if compression_suffix(path) and table_suffix(path) in (".csv", ".tsv"):
            suffix = table_suffix(path)  # a compressed text table: pandas reads it as it is
        reader = FILE_READERS.get(suffix)
        if reader is None:
            raise DataError(
                f"{spec}: unsupported file type {path.suffix!r}; use one of "
                f"{', '.join(sorted(FILE_READERS))} (.csv and .tsv may be compressed, e.g. .csv.gz), "
                "or a folder of images (PNG, JPEG, BMP, GIF, TIFF, WebP) or IDX files"
            )
        bundle = reader(path, options)
    return replace(bundle, name=spec)


def cap_train(bundle: DataBundle, n: int) -> DataBundle:
    """Return ``bundle`` with at most the first ``n`` training examples (test set unchanged)."""
    if bundle.train.shape[0] <= n:
        return bundle
    labels = bundle.train_labels
    frames = bundle.frames
    rows = bundle.file_rows
    return replace(
        bundle,
        train=bundle.train[:n].contiguous(),
        train_labels=None if labels is None else labels[:n].contiguous(),
        frames=None if frames is None else (frames[0].iloc[:n].reset_index(drop=True), frames[1]),
        file_rows=None if rows is None else (rows[0][:n], rows[1]),
    )


def is_data_frame(spec: Any) -> bool:
    """True when ``spec`` is a pandas DataFrame (checked without importing pandas)."""
    return type(spec).__name__ == "DataFrame" and type(spec).__module__.startswith("pandas")


def load_data(
    spec: str | os.PathLike[str] | Any,
    *,
    image_size: str | None = None,
    data_dir: str | None = None,
    download: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    n: int | None = None,
    table_mode: str = "schema",
    schema: str | None = None,
    column_types: Mapping[str, str] | None = None,
    ignore: Sequence[str] | None = None,
    condition_on: Sequence[str] | None = None,
    continuous: str = "auto",
    codec: Mapping[str, Any] | None = None,
    hold_out: bool = True,
    channels: int | None = None,
) -> DataBundle:
    """Return the dataset ``spec`` as a ``DataBundle`` of ``[N, D]`` train and test tensors.

    Images with a known number of grey levels (MNIST/Fashion-MNIST, image folders, IDX
    folders, uint8 image stacks, digits) come as **uint8 grey levels**, a quarter of the memory
    of float32; ``bundle.as_float("train")`` (or ``vaekit.data.to_model_units(x,
    bundle.levels)``) gives float32 values in [0, 1]. Tables and float image stacks come as
    float32. See ``DataBundle``.

    ``spec`` is a registered name (see ``available_datasets()``; a name wins over a file of
    the same name, so write ``./mnist`` for the folder) or a path: ``.npy``, ``.npz``,
    ``.csv``, ``.tsv``, a folder of IDX files, or a folder of images (PNG, JPEG, BMP, GIF, TIFF, WebP) (one sub-folder
    per class gives labels). ``image_size`` (``"28"``, ``"28x28"``, ``"32x32x3"``) resizes
    an image folder; ``channels=3`` reads a folder of grey images as RGB (a trained model's
    channels). ``data_dir`` and ``download`` locate or fetch MNIST/Fashion-MNIST.
    ``test_fraction`` (in (0, 1)) and ``seed`` make the train/test split of data that have
    none (digits always use their fixed split); ``hold_out=False`` keeps every row of such
    data for training, in the file's order, with an empty test set. ``n`` is the number of rows generated for
    ``synthetic5`` (default 2000); for every other dataset it keeps at most the first ``n``
    training examples, for quick runs. ``spec`` may also be a ``pathlib.Path``. Every bad
    input raises ``DataError``.

    Tables (``.csv``, ``.tsv``, ``.parquet`` or a pandas DataFrame as ``spec``) are read with
    a schema of column kinds (inferred; ``schema`` names a file of kinds, ``column_types``
    overrides, ``ignore`` leaves columns out), split, and encoded by a codec fitted on the
    training rows (``continuous`` picks how numbers are transformed); ``condition_on`` names
    the columns a conditional model takes as labels; ``codec`` encodes with a trained run's
    codec instead. ``table_mode="matrix"`` reads a CSV/TSV of numbers as a plain matrix.
    The bundle's ``table`` holds the codec and ``frames`` the rows as read.
    """
    table = {
        "table_mode": table_mode,
        "schema": schema,
        "column_types": column_types,
        "ignore": ignore,
        "condition_on": condition_on,
        "continuous": continuous,
        "codec": codec,
        "hold_out": hold_out,
    }
    if is_data_frame(spec):
        check_test_fraction(test_fraction, allow_zero=True)
        options = LoadOptions(test_fraction=test_fraction, seed=seed, n=n, **table)
        bundle = read_data_frame(spec, options)
        return bundle if n is None else cap_train(bundle, n)
    spec = os.fspath(spec)  # API users may pass a pathlib.Path
    is_table = table_suffix(Path(spec)) in TABLE_SUFFIXES and table_mode == "schema"
    check_test_fraction(test_fraction, allow_zero=is_table)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise DataError(f"n must be a positive number of examples, got {n!r}")
    options = LoadOptions(
        image_size=image_size,
        data_dir=data_dir,
        download=download,
        test_fraction=test_fraction,
        seed=seed,
        n=n,
        channels=channels,
        **table,
    )
    name = resolve_name(spec)
    if name is not None:
        if image_size is not None:
            raise DataError(f"dataset {name!r}: --image-size applies only to folders of images; leave it out")
        bundle = DATASETS[name](options)
    else:
        bundle = read_path(spec, options)
    # synthetic5 already generated n rows, so capping its (smaller) train set is a no-op.
    return bundle if n is None else cap_train(bundle, n)


#: paths :func:`warn_of_a_path_named_like_a_dataset` has warned of in this process
_WARNED_PATHS: set[Path] = set()


def warn_of_a_path_named_like_a_dataset(spec: str, data_dir: str | None) -> None:
    """Warn when ``spec`` names a registered dataset and is also a file or folder here that is
    not that dataset's ``data_dir``: a name wins over a path, so the user's own data would go
    unread without a word."""
    name = resolve_name(spec)
    path = Path(spec).expanduser()
    if name is None:
        return
    if not path.exists() or (data_dir is not None and Path(data_dir).expanduser().resolve() == path.resolve()):
        return
    if path.resolve() in _WARNED_PATHS:  # one command may build its config more than once
        return
    _WARNED_PATHS.add(path.resolve())
    warnings.warn(
        f"{spec!r} names the dataset {name!r}, which is what is read; the {'folder' if path.is_dir() else 'file'} "
        f"{spec!r} here is not: write ./{spec} to read it",
        VaekitWarning,
        stacklevel=user_stacklevel(),
    )

