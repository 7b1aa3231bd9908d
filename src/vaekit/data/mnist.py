"""MNIST and Fashion-MNIST: find their IDX files on disk, or download them on request."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from vaekit.data import download as downloads
from vaekit.data.bundle import DataBundle
from vaekit.data.idx import IDX_FILES, find_idx_files, read_idx_folder
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError, VaekitWarning

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
            check_files_are(name, folder)
            return read_idx_folder(folder, name)
    if options.download:
        folder = downloads.download_dataset(name, folders[0])
        check_files_are(name, folder)
        return read_idx_folder(folder, name)
    searched = ", ".join(str(f) for f in folders)
    raise DataError(
        f"dataset {name!r} not found: no complete set of IDX files "
        f"({', '.join(IDX_FILES.values())}, raw or .gz) in {searched}. Give the folder holding them as --data "
        f"(or --data-dir, where a command has it), set {ENV_DATA_DIR}, or pass --download "
        "(download=True) to fetch them"
    )


def check_files_are(name: str, folder: Path) -> None:
    """Check the IDX files in ``folder`` against the known checksums of dataset ``name``'s
    published files (raw or gzip; see ``vaekit.data.download.identify_idx_file``).

    Files of another known dataset (MNIST files under ``--data fashion-mnist``) raise
    ``DataError`` naming it; files that match no known checksum (a subset, a re-encoding, a
    decompressed Fashion-MNIST) give a ``VaekitWarning`` and are used as given."""
    files = find_idx_files(folder)
    found = {role: downloads.identify_idx_file(path, IDX_FILES[role]) for role, path in files.items()}
    title = downloads.TITLES.get(name, name)
    other = next((dataset for dataset in found.values() if dataset not in (None, name)), None)
    if other is not None:
        matching = ", ".join(files[role].name for role, dataset in found.items() if dataset == other)
        raise DataError(
            f"{folder} holds {downloads.TITLES.get(other, other)} files, not {title}: {matching} "
            f"match the published {downloads.TITLES.get(other, other)} checksums. Pass --data {other} to train on them, or point "
            f"--data-dir at the {title} files (or pass --download with an empty --data-dir)"
        )
    unknown = [files[role].name for role, dataset in found.items() if dataset is None]
    if unknown:
        warnings.warn(
            f"{folder}: could not confirm that {', '.join(unknown)} are the published {title} files "
            "(their checksums match none that vaekit knows); using them as given, so results may not "
            f"compare with published {title} numbers",
            VaekitWarning,
            stacklevel=2,
        )


def read_mnist(options: LoadOptions) -> DataBundle:
    """Return MNIST (60000 train / 10000 test 28x28 digits, [0, 1] grey levels, labels)."""
    return read_mnist_like("mnist", options)


def read_fashion_mnist(options: LoadOptions) -> DataBundle:
    """Return Fashion-MNIST (60000/10000 28x28 clothing images, [0, 1] grey levels, labels)."""
    return read_mnist_like("fashion-mnist", options)
