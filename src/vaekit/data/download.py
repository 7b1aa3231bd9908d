"""Downloading MNIST-format datasets from public mirrors, verified by checksum, atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
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
