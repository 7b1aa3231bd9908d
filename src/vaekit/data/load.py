"""``load_data``: one entry point from a dataset name or path to a ready ``DataBundle``."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from vaekit.data.bundle import DataBundle
from vaekit.data.options import LoadOptions
from vaekit.data.registry import (
    DATASETS,
    FILE_READERS,
    available_datasets,
    read_folder,
    resolve_name,
)
from vaekit.data.validate import check_test_fraction
from vaekit.runtime.errors import DataError


def read_path(spec: str, options: LoadOptions) -> DataBundle:
    """Return the dataset stored at the file or folder ``spec`` (dispatched on its suffix, or
    on being a folder); the bundle's name is ``spec`` as given."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(
            f"{spec!r} is neither a dataset name ({', '.join(available_datasets())}) nor an existing file or folder"
        )
    if options.image_size is not None and not path.is_dir():
        raise DataError(f"{spec}: --image-size applies only to folders of images; leave it out for files")
    if path.is_dir():
        bundle = read_folder(path, options)
    else:
        reader = FILE_READERS.get(path.suffix.lower())
        if reader is None:
            raise DataError(
                f"{spec}: unsupported file type {path.suffix!r}; use one of "
                f"{', '.join(sorted(FILE_READERS))}, or a folder of PNG/JPEG images or IDX files"
            )
        bundle = reader(path, options)
    return replace(bundle, name=spec)


def cap_train(bundle: DataBundle, n: int) -> DataBundle:
    """Return ``bundle`` with at most the first ``n`` training examples (test set unchanged)."""
    if bundle.train.shape[0] <= n:
        return bundle
    labels = bundle.train_labels
    return replace(
        bundle,
        train=bundle.train[:n].contiguous(),
        train_labels=None if labels is None else labels[:n].contiguous(),
    )


def load_data(
    spec: str | os.PathLike[str],
    *,
    image_size: str | None = None,
    data_dir: str | None = None,
    download: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    n: int | None = None,
) -> DataBundle:
    """Return the dataset ``spec`` as a ``DataBundle`` of ``[N, D]`` train and test tensors.

    Images with a known number of grey levels (MNIST/Fashion-MNIST, PNG/JPEG folders, IDX
    folders, uint8 image stacks, digits) come as **uint8 grey levels**, a quarter of the memory
    of float32; ``bundle.as_float("train")`` (or ``vaekit.data.to_model_units(x,
    bundle.levels)``) gives float32 values in [0, 1]. Tables and float image stacks come as
    float32. See ``DataBundle``.

    ``spec`` is a registered name (see ``available_datasets()``; a name wins over a file of
    the same name, so write ``./mnist`` for the folder) or a path: ``.npy``, ``.npz``,
    ``.csv``, ``.tsv``, a folder of IDX files, or a folder of PNG/JPEG images (one sub-folder
    per class gives labels). ``image_size`` (``"28"``, ``"28x28"``, ``"32x32x3"``) resizes
    an image folder. ``data_dir`` and ``download`` locate or fetch MNIST/Fashion-MNIST.
    ``test_fraction`` (in (0, 1)) and ``seed`` make the train/test split of data that have
    none (digits always use their fixed split). ``n`` is the number of rows generated for
    ``synthetic5`` (default 2000); for every other dataset it keeps at most the first ``n``
    training examples, for quick runs. ``spec`` may also be a ``pathlib.Path``. Every bad
    input raises ``DataError``.
    """
    spec = os.fspath(spec)  # API users may pass a pathlib.Path
    check_test_fraction(test_fraction)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise DataError(f"n must be a positive number of examples, got {n!r}")
    options = LoadOptions(
        image_size=image_size,
        data_dir=data_dir,
        download=download,
        test_fraction=test_fraction,
        seed=seed,
        n=n,
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
