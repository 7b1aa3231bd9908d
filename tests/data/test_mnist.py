"""Finding MNIST / Fashion-MNIST on disk: search order, errors, and the real data (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaekit.data import load_data
from vaekit.data.mnist import candidate_folders
from vaekit.runtime.errors import DataError

from .helpers import write_idx_folder

REAL_MNIST = Path("/work/shared/data/mnist")
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
