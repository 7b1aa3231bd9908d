"""Downloads, with the network replaced by a fake ``fetch_url``: checksums, mirrors, temp files."""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from vaekit.data import download, load_data
from vaekit.runtime.errors import DataError

from .helpers import STEMS, idx_bytes, tiny_idx_arrays

BASES = download.MIRRORS["mnist"]


def served_files() -> dict[str, bytes]:
    """Return the gzip files a fake mirror serves, by file name."""
    arrays = tiny_idx_arrays()
    return {f"{STEMS[role]}.gz": gzip.compress(idx_bytes(a)) for role, a in arrays.items()}


@pytest.fixture
def fake_mirror(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Serve tiny IDX files whose MD5s are registered as the published ones; record calls."""
    files = served_files()
    checksums = {name: ("md5", hashlib.md5(raw).hexdigest()) for name, raw in files.items()}
    monkeypatch.setitem(download.CHECKSUMS, "mnist", checksums)
    calls: dict[str, list[str]] = {"urls": [], "fail": []}

    def fake_fetch(url: str, dest: Path) -> None:
        calls["urls"].append(url)
        if any(url.startswith(base) for base in calls["fail"]):
            raise urllib.error.URLError("mirror down")
        dest.write_bytes(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(download, "fetch_url", fake_fetch)
    return calls


def test_download_into_cache_then_read(fake_mirror, isolated_home: Path) -> None:
    bundle = load_data("mnist", download=True)
    assert bundle.train.shape == (6, 6) and bundle.test.shape == (4, 6)
    folder = isolated_home / ".cache" / "vaekit" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(served_files())
    assert len(fake_mirror["urls"]) == 4
    # Second load finds the files and does not touch the network again.
    load_data("mnist", download=True)
    assert len(fake_mirror["urls"]) == 4


def test_download_goes_to_data_dir_when_given(fake_mirror, tmp_path: Path) -> None:
    load_data("mnist", data_dir=str(tmp_path / "mine"), download=True)
    assert len(list((tmp_path / "mine").glob("*.gz"))) == 4


def test_next_mirror_is_tried_when_one_is_down(fake_mirror, isolated_home: Path) -> None:
    fake_mirror["fail"].append(BASES[0])
    bundle = load_data("mnist", download=True)
    assert bundle.num_classes == 3
    assert fake_mirror["urls"][:2] == [BASES[0] + "train-images-idx3-ubyte.gz"] + [
        BASES[1] + "train-images-idx3-ubyte.gz"
    ]


def test_all_mirrors_down_is_a_data_error(fake_mirror, isolated_home: Path) -> None:
    fake_mirror["fail"].extend(BASES)
    with pytest.raises(DataError, match="mirror down.*--data-dir"):
        load_data("mnist", download=True)
    folder = isolated_home / ".cache" / "vaekit" / "mnist"
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_checksum_mismatch_deletes_temp_file_and_raises(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path, name: str
) -> None:
    # The real published checksums: these bytes cannot match them.
    def fake_fetch(url: str, dest: Path) -> None:
        dest.write_bytes(b"not the file you wanted")

    monkeypatch.setattr(download, "fetch_url", fake_fetch)
    with pytest.raises(DataError, match="checksum") as info:
        load_data(name, download=True)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    folder = isolated_home / ".cache" / "vaekit" / name
    assert list(folder.iterdir()) == []  # neither a temp file nor a bad final file is left


def test_fetch_url_copies_the_response_body(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(bytes(range(256)) * 10)
    dest = tmp_path / "dest.bin"
    download.fetch_url(source.as_uri(), dest)
    assert dest.read_bytes() == source.read_bytes()


def test_file_digest_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(np.arange(1000, dtype=np.int64).tobytes())
    assert download.file_digest(path, "md5") == hashlib.md5(path.read_bytes()).hexdigest()
