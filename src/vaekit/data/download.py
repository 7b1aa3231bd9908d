"""Downloading MNIST-format datasets from public mirrors, verified by checksum, atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from vaekit.data.idx import IDX_FILES, find_idx_files
from vaekit.runtime.errors import DataError

# Mirrors tried in order; each serves the four files under their standard ``.gz`` names.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

# Published MD5 digests of the mirrors' gzip files (the values torchvision verifies). MD5 is
# used as an integrity check against damaged or wrong downloads, not as a security measure.
CHECKSUMS: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
}

# MD5 digests of the decompressed IDX files, which do not depend on how a copy was compressed
# (a re-compressed copy's .gz digests differ from the mirrors', its bytes do not).
# Fashion-MNIST publishes digests of its .gz files only, so a decompressed copy of it is not
# recognised (loading it says so, and goes on).
RAW_CHECKSUMS: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": ("md5", "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": ("md5", "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": ("md5", "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": ("md5", "27ae3e4e09519cfbb04c329615203637"),
    },
}
# Sizes in bytes of the decompressed IDX files of both datasets (60000/10000 28x28 images):
# a file of another size is none of them, and is not hashed.
RAW_SIZES = {
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
# How messages name the datasets.
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

TIMEOUT_S = 60.0  # per network operation, in seconds
CHUNK_BYTES = 1 << 20


def fetch_url(url: str, dest: Path) -> None:
    """Write the body of ``url`` to the file ``dest``; returns nothing (raises ``OSError`` on
    network failure). The one function that touches the network, so tests replace it."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)


def file_digest(path: Path, algorithm: str) -> str:
    """Return the hex digest of the file at ``path`` under ``algorithm`` (e.g. ``"md5"``)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(path: Path, algorithm: str) -> str:
    """Return the hex digest of the content of ``path``, decompressed first when the name ends
    in ``.gz`` (chunk by chunk: the content is never held whole)."""
    if path.suffix != ".gz":
        return file_digest(path, algorithm)
    import gzip

    digest = hashlib.new(algorithm, usedforsecurity=False)
    with gzip.open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def content_size(path: Path) -> int:
    """Return the size in bytes of the content of ``path``: for a ``.gz`` file the size its
    gzip trailer records (modulo 2**32; enough to tell the IDX files apart), else its size."""
    size = path.stat().st_size
    if path.suffix != ".gz" or size < 4:
        return size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


#: what :func:`identify_idx_file` found, by (path, size, modification time): a file is hashed
#: once per process
_IDENTIFIED: dict[tuple[str, int, int], str | None] = {}


def identify_idx_file(path: Path, stem: str) -> str | None:
    """Return the name of the dataset (``"mnist"``, ``"fashion-mnist"``) whose published IDX
    file ``stem`` (e.g. ``"train-images-idx3-ubyte"``) is at ``path``, raw or gzip-compressed,
    or None when it is none of the files vaekit knows.

    A ``.gz`` file is first compared as it is with the mirrors' digests (:data:`CHECKSUMS`,
    cheap), then, as any file, by the digest of its decompressed bytes (:data:`RAW_CHECKSUMS`);
    a file whose content has another size than the published one is not hashed at all.
    Results are cached by (path, size, modification time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _IDENTIFIED:
        return _IDENTIFIED[key]
    found = None
    if path.suffix == ".gz":
        found = _match(path, f"{stem}.gz", CHECKSUMS, file_digest)
    if found is None and content_size(path) == RAW_SIZES.get(stem):
        found = _match(path, stem, RAW_CHECKSUMS, content_digest)
    _IDENTIFIED[key] = found
    return found


def _match(path: Path, filename: str, table: dict[str, dict[str, tuple[str, str]]], digest_of: Callable[[Path, str], str]) -> str | None:
    """Return the dataset of ``table`` whose digest of ``filename`` is that of ``path``, or None."""
    digests: dict[str, str] = {}
    for name, sums in table.items():
        if filename not in sums:
            continue
        algorithm, expected = sums[filename]
        if algorithm not in digests:
            digests[algorithm] = digest_of(path, algorithm)
        if digests[algorithm] == expected:
            return name
    return None


def fetch_verified(urls: list[str], filename: str, folder: Path, checksum: tuple[str, str]) -> Path:
    """Download ``filename`` from the first mirror in ``urls`` that serves it with the right
    checksum and return its final path in ``folder``. Each try writes a temp file in
    ``folder`` that is renamed into place only once verified, and deleted otherwise."""
    import http.client

    algorithm, expected = checksum
    failures: list[str] = []
    for base in urls:
        url = base + filename
        # A temp file in the target folder, so the final rename is atomic (same filesystem).
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                fetch_url(url, tmp)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{url}: {exc}")
                continue
            actual = file_digest(tmp, algorithm)
            if actual != expected:
                failures.append(f"{url}: {algorithm} checksum {actual}, expected {expected}")
                continue
            final = folder / filename
            os.replace(tmp, final)
            return final
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(
        f"could not download {filename} into {folder}: "
        + "; ".join(failures)
        + ". A checksum mismatch means a damaged or wrong file (it was deleted); otherwise "
        "check the network, or fetch the four IDX files by hand into a folder and pass "
        "--data-dir"
    )


def download_dataset(name: str, folder: Path) -> Path:
    """Download the IDX files of dataset ``name`` still missing from ``folder`` (created if
    needed) and return ``folder``."""
    if name not in MIRRORS:
        raise DataError(f"no download mirrors for dataset {name!r}; known: {sorted(MIRRORS)}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create download folder {folder} ({exc}); pass --data-dir") from None
    present = find_idx_files(folder)
    for role, stem in IDX_FILES.items():
        if role in present:
            continue
        filename = f"{stem}.gz"
        fetch_verified(MIRRORS[name], filename, folder, CHECKSUMS[name][filename])
    return folder
