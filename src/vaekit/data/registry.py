"""Which reader handles which dataset name, file suffix or folder: plain dicts, no branching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vaekit.data.arrays import read_npy, read_npz
from vaekit.data.bundle import DataBundle
from vaekit.data.delimited import read_delimited
from vaekit.data.digits import read_digits
from vaekit.data.idx import find_idx_files, read_idx_folder
from vaekit.data.images import IMAGE_SUFFIXES, read_image_file, read_image_folder
from vaekit.data.mnist import read_fashion_mnist, read_mnist
from vaekit.data.options import LoadOptions
from vaekit.data.synthetic import read_synthetic5
from vaekit.data.table_bundle import read_table_file
from vaekit.runtime.errors import DataError

NamedReader = Callable[[LoadOptions], DataBundle]
PathReader = Callable[[Path, LoadOptions], DataBundle]

DATASETS: dict[str, NamedReader] = {
    "digits": read_digits,
    "mnist": read_mnist,
    "fashion-mnist": read_fashion_mnist,
    "synthetic5": read_synthetic5,
}



def read_text_table(path: Path, options: LoadOptions) -> DataBundle:
    """Return a ``.csv``/``.tsv`` file as a typed table, or as a matrix of numbers when
    ``options.table_mode`` is "matrix"."""
    return read_delimited(path, options) if options.table_mode == "matrix" else read_table_file(path, options)


FILE_READERS: dict[str, PathReader] = {
    ".npy": read_npy,
    ".npz": read_npz,
    ".csv": read_text_table,
    ".tsv": read_text_table,
    ".parquet": read_table_file,
    ".pq": read_table_file,
    **dict.fromkeys(IMAGE_SUFFIXES, read_image_file),  # one image: one example to encode or score
}


def available_datasets() -> list[str]:
    """Return the registered dataset names, sorted (paths to files/folders work too)."""
    return sorted(DATASETS)


def resolve_name(spec: str) -> str | None:
    """Return the registered name ``spec`` refers to, or ``None`` if it is not one.

    An exact name always counts; a loose spelling (``"MNIST"``, ``"fashion_mnist"``) counts
    only when no file or folder of that name exists, so paths are never shadowed by accident.
    """
    if spec in DATASETS:
        return spec
    loose = spec.strip().lower().replace("_", "-")
    if loose in DATASETS and not Path(spec).exists():
        return loose
    return None


def read_folder(folder: Path, options: LoadOptions) -> DataBundle:
    """Return the dataset in ``folder``: MNIST-format if it holds IDX files, else images."""
    if find_idx_files(folder):
        if options.image_size is not None:
            raise DataError(f"{folder}: --image-size applies only to folders of images, not IDX files; leave it out")
        return read_idx_folder(folder, str(folder))
    return read_image_folder(folder, options)
