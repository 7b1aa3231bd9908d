"""Reading MNIST-format IDX files (raw or gzip-compressed) with numpy alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaekit.data.bundle import DataBundle, bundle_from_arrays
from vaekit.data.validate import as_grey_levels, as_labels
from vaekit.runtime.errors import DataError

# Magic numbers of the IDX format: 0x0000 + type 0x08 (unsigned byte) + number of dimensions.
IMAGES_MAGIC = 2051  # 0x00000803: [count, rows, cols]
LABELS_MAGIC = 2049  # 0x00000801: [count]

# The four files of an MNIST-format dataset, by role, under their standard names.
IDX_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}
GREY_LEVELS = 256  # IDX pixels are unsigned bytes


def idx_candidates(stem: str) -> list[str]:
    """Return the file names under which the IDX file ``stem`` is accepted, preferred first:
    raw before gzip (no decompression), and the ``name.idx3-ubyte`` spelling some mirrors use."""
    dotted = stem.replace("-idx", ".idx")
    return [stem, f"{stem}.gz", dotted, f"{dotted}.gz"]


def find_idx_files(folder: Path) -> dict[str, Path]:
    """Return the IDX files present in ``folder``, as role -> path (possibly fewer than four)."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for role, stem in IDX_FILES.items():
        for candidate in idx_candidates(stem):
            path = folder / candidate
            if path.is_file():
                found[role] = path
                break
    return found


READ_CHUNK = 1 << 20  # bytes decompressed per read of a .gz file


def read_bytes(path: Path) -> bytearray:
    """Return the content of ``path``, decompressed when the name ends in ``.gz``.

    A ``bytearray`` (mutable), so that arrays parsed from it are writable and a tensor can
    share their memory; a ``.gz`` file is decompressed chunk by chunk into it, so its bytes are
    held once (``gzip``'s own ``read()`` would briefly hold them twice)."""
    try:
        if path.suffix != ".gz":
            with open(path, "rb") as f:
                raw = bytearray(path.stat().st_size)
                n = f.readinto(raw)
            return raw[:n] if n != len(raw) else raw
        import gzip
        import zlib

        try:
            raw = bytearray()
            with gzip.open(path, "rb") as f:
                while chunk := f.read(READ_CHUNK):
                    raw += chunk
            return raw
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(
                f"{path}: not a valid gzip file ({exc}); the file is damaged or truncated, "
                "delete it and download it again"
            ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None


def parse_idx(raw: bytes | bytearray, source: str, magic: int) -> np.ndarray:
    """Return the uint8 array stored in the IDX bytes ``raw`` (shape from the header), a view
    of ``raw`` (writable when ``raw`` is a ``bytearray``).

    Raises ``DataError`` naming ``source`` if the magic number is not ``magic`` or the file
    size does not match what the header promises.
    """
    what = "images" if magic == IMAGES_MAGIC else "labels"
    if len(raw) < 4:
        raise DataError(f"{source}: truncated IDX file ({len(raw)} bytes, no header)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(
            f"{source}: wrong IDX magic number {found} (expected {magic} for {what}); "
            "this is not an MNIST-format "
            f"{what} file, or the files were swapped or renamed"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{source}: truncated IDX file ({len(raw)} bytes, header needs {header})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{source}: IDX file is {problem}: header says {what} of shape {dims} "
            f"({expected} bytes), file has {len(raw)} bytes; delete it and download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(pixels, labels)``: uint8 ``[N, rows, cols]`` and int64 ``[N]``, checked to
    have the same number of examples."""
    images = parse_idx(read_bytes(images_path), str(images_path), IMAGES_MAGIC)
    labels = parse_idx(read_bytes(labels_path), str(labels_path), LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has "
            f"{labels.shape[0]} labels; the files do not belong together"
        )
    return images, as_labels(labels, labels.shape[0], str(labels_path))


def read_idx_folder(folder: Path, name: str) -> DataBundle:
    """Return the MNIST-format dataset in ``folder`` as a ``DataBundle``: pixels as uint8 grey
    levels (256; /255 gives [0, 1]), shape ``(1, rows, cols)``, the files' own train/test
    split, labels. The pixels are not copied: the bundle's tensors share the files' bytes."""
    files = find_idx_files(folder)
    missing = [IDX_FILES[role] for role in IDX_FILES if role not in files]
    if missing:
        raise DataError(
            f"{folder}: missing MNIST-format file(s) {', '.join(missing)} (raw or .gz); "
            "put all four IDX files in the folder, or pass --download"
        )
    train_px, train_y = read_idx_pair(files["train-images"], files["train-labels"])
    test_px, test_y = read_idx_pair(files["test-images"], files["test-labels"])
    if train_px.shape[1:] != test_px.shape[1:]:
        raise DataError(
            f"{files['train-images']} holds {train_px.shape[1]}x{train_px.shape[2]} images but "
            f"{files['test-images']} holds {test_px.shape[1]}x{test_px.shape[2]}; "
            "the files do not belong together"
        )
    rows, cols = train_px.shape[1:]
    parts = [
        as_grey_levels(px.reshape(px.shape[0], rows * cols), GREY_LEVELS, str(path))
        for path, px in ((files["train-images"], train_px), (files["test-images"], test_px))
    ]
    return bundle_from_arrays(
        name,
        parts[0],
        parts[1],
        shape=(1, rows, cols),
        kind="image",
        value_range="unit",
        train_labels=train_y,
        test_labels=test_y,
        levels=GREY_LEVELS,
    )
