"""Helpers for the data tests: tiny IDX files and images written into tmp_path."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
STEMS = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Return ``array`` (uint8) encoded as an IDX file, with ``magic`` overriding the header."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_bytes(path: Path, raw: bytes) -> Path:
    """Write ``raw`` to ``path``, gzip-compressed when the name ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def tiny_idx_arrays(
    n_train: int = 6, n_test: int = 4, rows: int = 3, cols: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Return random uint8 pixels and labels (0..2) for the four IDX roles."""
    rng = np.random.default_rng(seed)
    return {
        "train-images": rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        "train-labels": np.arange(n_train, dtype=np.uint8) % 3,
        "test-images": rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        "test-labels": np.arange(n_test, dtype=np.uint8) % 3,
    }


def write_idx_folder(folder: Path, gz: bool = False, **sizes: int) -> dict[str, np.ndarray]:
    """Write the four IDX files of a tiny dataset into ``folder``; return their arrays."""
    arrays = tiny_idx_arrays(**sizes)
    for role, array in arrays.items():
        write_bytes(folder / (STEMS[role] + (".gz" if gz else "")), idx_bytes(array))
    return arrays


def write_image(path: Path, mode: str = "L", size: tuple[int, int] = (4, 5), seed: int = 0) -> np.ndarray:
    """Write a random image of Pillow ``mode`` and ``size`` = (height, width) to ``path``;
    return its pixels as uint8 (H, W) or (H, W, C)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = {"L": (), "RGB": (3,)}[mode]
    pixels = rng.integers(0, 256, (*size, *channels), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def damage_row_group(path: Path, group: int, column: int = 1) -> None:
    """Flip bytes at the start of one column chunk of row group ``group`` of the Parquet file
    ``path`` (its data page header), leaving the footer as it was: the file opens, that row
    group does not read."""
    import pyarrow.parquet as pq

    offset = pq.ParquetFile(path).metadata.row_group(group).column(column).data_page_offset
    raw = bytearray(path.read_bytes())
    for i in range(offset, offset + 40):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
