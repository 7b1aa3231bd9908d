"""Finding MNIST / Fashion-MNIST on disk: search order, errors, and the real data (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaekit.data import load_data
from vaekit.data.mnist import candidate_folders
from vaekit.runtime.errors import DataError

from .helpers import write_idx_folder

# The tiny files these tests write are no published dataset: loading them warns so (tested below).
pytestmark = pytest.mark.filterwarnings("ignore:.*could not confirm that:vaekit.runtime.errors.VaekitWarning")

# The real MNIST files beside the repository (../shared/data/mnist), as CI lays them out.
REAL_MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
# Per-class counts of digits 0..9, as published with the data (see its README).
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_data_dir_holding_the_files(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "d", n_train=5)
    assert load_data("mnist", data_dir=str(tmp_path / "d")).train.shape[0] == 5


def test_data_dir_with_a_subfolder_per_dataset(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "d" / "fashion-mnist", n_train=7)
    bundle = load_data("fashion-mnist", data_dir=str(tmp_path / "d"))
    assert bundle.name == "fashion-mnist" and bundle.train.shape[0] == 7


def test_env_var_before_home_cache(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_idx_folder(isolated_home / ".cache" / "vaekit" / "mnist", n_train=5)
    assert load_data("mnist").train.shape[0] == 5
    write_idx_folder(tmp_path / "env" / "mnist", n_train=8)
    monkeypatch.setenv("VAEKIT_DATA_DIR", str(tmp_path / "env"))
    assert load_data("mnist").train.shape[0] == 8


def test_explicit_data_dir_does_not_fall_back_to_the_cache(tmp_path: Path, isolated_home: Path) -> None:
    write_idx_folder(isolated_home / ".cache" / "vaekit" / "mnist")
    with pytest.raises(DataError, match="not found"):
        load_data("mnist", data_dir=str(tmp_path / "empty"))


def test_missing_without_download_names_folders_and_fixes(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAEKIT_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        load_data("fashion-mnist")
    message = str(info.value)
    for folder in candidate_folders("fashion-mnist", None):
        assert str(folder) in message
    assert str(isolated_home / ".cache" / "vaekit" / "fashion-mnist") in message
    assert "--data-dir" in message and "--download" in message


def test_incomplete_folder_counts_as_missing(tmp_path: Path) -> None:
    write_idx_folder(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="not found"):
        load_data("mnist", data_dir=str(tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not available")
def test_real_mnist() -> None:
    bundle = load_data("mnist", data_dir=str(REAL_MNIST))
    assert bundle.train.shape == (60000, 784) and bundle.test.shape == (10000, 784)
    assert bundle.shape == (1, 28, 28) and bundle.levels == 256
    assert bundle.train.dtype == torch.uint8 and bundle.train.min().item() == 0 and bundle.train.max().item() == 255
    assert bundle.train_labels.bincount().tolist() == TRAIN_CLASS_COUNTS
    assert bundle.test_labels.bincount().tolist() == TEST_CLASS_COUNTS


# --- local files checked against the datasets' known checksums ---


@pytest.fixture
def known_tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny IDX dataset in ``tmp_path/mnist`` whose raw digests and sizes are registered as
    the published MNIST ones (the real tables know 60000/10000-example files only)."""
    import hashlib

    from vaekit.data import download

    from .helpers import STEMS, idx_bytes

    arrays = write_idx_folder(tmp_path / "mnist")
    raw = {STEMS[role]: idx_bytes(array) for role, array in arrays.items()}
    monkeypatch.setitem(download.RAW_CHECKSUMS, "mnist", {s: ("md5", hashlib.md5(b).hexdigest()) for s, b in raw.items()})
    monkeypatch.setattr(download, "RAW_SIZES", {s: len(b) for s, b in raw.items()})
    monkeypatch.setattr(download, "_IDENTIFIED", {})
    return tmp_path / "mnist"


def test_files_of_another_dataset_are_refused_naming_it(known_tiny_mnist: Path) -> None:
    with pytest.raises(DataError) as info:
        load_data("fashion-mnist", data_dir=str(known_tiny_mnist))
    message = str(info.value)
    assert f"{known_tiny_mnist} holds MNIST files, not Fashion-MNIST" in message
    assert "train-images-idx3-ubyte" in message and "--data mnist" in message


def test_files_of_the_named_dataset_load_without_a_warning(known_tiny_mnist: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_data("mnist", data_dir=str(known_tiny_mnist)).train.shape[0] == 6


def test_compressed_files_are_known_by_their_decompressed_bytes(known_tiny_mnist: Path) -> None:
    from .helpers import write_idx_folder as write

    write(known_tiny_mnist, gz=True)  # the same arrays, re-compressed: .gz digests nobody published
    for raw in known_tiny_mnist.glob("*-ubyte"):
        raw.unlink()
    with pytest.raises(DataError, match="holds MNIST files, not Fashion-MNIST"):
        load_data("fashion-mnist", data_dir=str(known_tiny_mnist))


def test_gzip_files_are_known_by_the_mirrors_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from vaekit.data import download

    write_idx_folder(tmp_path, gz=True)
    digests = {p.name: ("md5", hashlib.md5(p.read_bytes()).hexdigest()) for p in tmp_path.glob("*.gz")}
    monkeypatch.setitem(download.CHECKSUMS, "fashion-mnist", digests)
    with pytest.raises(DataError, match="holds Fashion-MNIST files, not MNIST"):
        load_data("mnist", data_dir=str(tmp_path))


def test_files_matching_no_known_checksum_load_with_a_warning(tmp_path: Path) -> None:
    from vaekit.runtime.errors import VaekitWarning

    write_idx_folder(tmp_path, n_train=5)
    with pytest.warns(VaekitWarning, match="could not confirm that .* are the published Fashion-MNIST files"):
        assert load_data("fashion-mnist", data_dir=str(tmp_path)).train.shape[0] == 5


def test_a_file_is_hashed_once_per_process(known_tiny_mnist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaekit.data import download

    calls: list[Path] = []
    digest = download.content_digest
    monkeypatch.setattr(download, "content_digest", lambda path, algorithm: calls.append(path) or digest(path, algorithm))
    load_data("mnist", data_dir=str(known_tiny_mnist))
    load_data("mnist", data_dir=str(known_tiny_mnist))
    assert len(calls) == 4


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not available")
def test_the_real_mnist_files_are_known_and_refused_as_fashion_mnist() -> None:
    from vaekit.data.download import identify_idx_file
    from vaekit.data.idx import IDX_FILES, find_idx_files

    for role, path in find_idx_files(REAL_MNIST).items():
        assert identify_idx_file(path, IDX_FILES[role]) == "mnist"  # re-compressed: known by their bytes
    with pytest.raises(DataError, match="holds MNIST files, not Fashion-MNIST"):
        load_data("fashion-mnist", data_dir=str(REAL_MNIST))
