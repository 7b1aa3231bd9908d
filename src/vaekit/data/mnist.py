"""MNIST and Fashion-MNIST: find their IDX files on disk, or download them on request."""

from __future__ import annotations

import os
from pathlib import Path

from vaekit.data import download as downloads
from vaekit.data.bundle import DataBundle
from vaekit.data.idx import IDX_FILES, find_idx_files, read_idx_folder
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError

ENV_DATA_DIR = "VAEKIT_DATA_DIR"


def cache_dir() -> Path:
    """Return the per-user cache folder of vaekit datasets, ``~/.cache/vaekit``."""
    return Path.home() / ".cache" / "vaekit"


def candidate_folders(name: str, data_dir: str | None) -> list[Path]:
    """Return the folders searched for dataset ``name``, in order; the first one is also
    where a download goes.

    With ``data_dir``: that folder, then ``data_dir/<name>`` (both layouts are common) and
    nothing else, since an explicit folder should not be overridden by a stale cache.
    Without: ``$VAEKIT_DATA_DIR/<name>`` if the variable is set, then ``~/.cache/vaekit/<name>``.
    """
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [root, root / name]
    folders = []
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        folders.append(Path(env).expanduser() / name)
    folders.append(cache_dir() / name)
    return folders


def read_mnist_like(name: str, options: LoadOptions) -> DataBundle:
    """Return dataset ``name`` (``"mnist"`` or ``"fashion-mnist"``) from the first folder that
    holds all four IDX files, downloading them first if missing and ``options.download``."""
    folders = candidate_folders(name, options.data_dir)
    for folder in folders:
        if len(find_idx_files(folder)) == len(IDX_FILES):
            return read_idx_folder(folder, name)
    if options.download:
        return read_idx_folder(downloads.download_dataset(name, folders[0]), name)
    searched = ", ".join(str(f) for f in folders)
    raise DataError(
        f"dataset {name!r} not found: no complete set of IDX files "
        f"({', '.join(IDX_FILES.values())}, raw or .gz) in {searched}. Pass --data-dir "
        f"with the folder holding them, set {ENV_DATA_DIR}, or pass --download "
        "(download=True) to fetch them"
    )


def read_mnist(options: LoadOptions) -> DataBundle:
    """Return MNIST (60000 train / 10000 test 28x28 digits, [0, 1] grey levels, labels)."""
    return read_mnist_like("mnist", options)


def read_fashion_mnist(options: LoadOptions) -> DataBundle:
    """Return Fashion-MNIST (60000/10000 28x28 clothing images, [0, 1] grey levels, labels)."""
    return read_mnist_like("fashion-mnist", options)
