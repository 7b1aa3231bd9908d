"""``.npy`` / ``.npz`` files: tables, image stacks, labels, and every bad-array check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.data.arrays import read_npy, read_npz
from vaekit.data.holdout import split_indices
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError

OPTIONS = LoadOptions()


def save_npy(tmp_path: Path, x: np.ndarray) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path


@pytest.mark.parametrize(
    ("x", "value_range"),
    [
        (np.array([[0, 1], [1, 1], [0, 0], [1, 0], [1, 1]], dtype=np.int64), "binary"),
        (np.linspace(0, 1, 10).reshape(5, 2), "unit"),
        (np.linspace(-3, 4, 10).reshape(5, 2), "real"),
    ],
)
def test_table_from_npy(tmp_path: Path, x: np.ndarray, value_range: str) -> None:
    bundle = read_npy(save_npy(tmp_path, x), OPTIONS)
    assert bundle.kind == "table" and bundle.shape == (2,) and bundle.dim == 2
    assert bundle.value_range == value_range and bundle.levels is None
    assert bundle.train.dtype == torch.float32 and bundle.test.dtype == torch.float32
    assert bundle.train.shape[0] + bundle.test.shape[0] == 5 and bundle.test.shape[0] == 1
    both = torch.cat([bundle.train, bundle.test])
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, x.astype(np.float32).tolist()))
    assert bundle.train_labels is None and bundle.num_classes is None


def test_split_follows_seed_and_test_fraction(tmp_path: Path) -> None:
    path = save_npy(tmp_path, np.arange(200, dtype=np.float64).reshape(100, 2))
    a = read_npy(path, LoadOptions(seed=1, test_fraction=0.3))
    b = read_npy(path, LoadOptions(seed=1, test_fraction=0.3))
    c = read_npy(path, LoadOptions(seed=2, test_fraction=0.3))
    assert a.test.shape[0] == 30 and a.train.shape[0] == 70
    assert torch.equal(a.test, b.test) and not torch.equal(a.test, c.test)


def test_npz_with_x_and_y(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(10, 3)), y=np.arange(10) % 4)
    bundle = read_npz(path, OPTIONS)
    assert bundle.value_range == "real" and bundle.num_classes == 4
    assert bundle.train_labels.dtype == torch.int64
    assert bundle.train_labels.shape[0] == bundle.train.shape[0]


def test_npz_only_array_any_name(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, features=np.ones((4, 2)), y=np.array([0.0, 1.0, 1.0, 0.0]))
    bundle = read_npz(path, OPTIONS)
    assert bundle.value_range == "binary" and bundle.num_classes == 2


def test_npz_x_is_chosen_among_several_arrays(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, meta=np.zeros((2, 7)), x=np.ones((4, 3)), y=np.arange(4))
    bundle = read_npz(path, OPTIONS)
    assert bundle.shape == (3,) and bundle.num_classes == 4


def test_npz_several_arrays_without_x(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((4, 2)), b=np.ones((4, 2)))
    with pytest.raises(DataError, match="none is named 'x'"):
        read_npz(path, OPTIONS)


def test_greyscale_image_stack_stays_uint8(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (6, 4, 5), dtype=np.uint8)
    path = save_npy(tmp_path, x)
    bundle = read_npy(path, OPTIONS)
    assert (bundle.kind, bundle.shape, bundle.levels) == ("image", (1, 4, 5), 256)
    assert bundle.value_range == "unit" and bundle.train.dtype == torch.uint8
    train_idx, _ = split_indices(6, OPTIONS.test_fraction, OPTIONS.seed, str(path))
    np.testing.assert_array_equal(bundle.train.numpy(), x.reshape(6, -1)[train_idx])


def test_uint8_image_stack_of_black_and_white_is_binary(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 2, (6, 4, 5), dtype=np.uint8) * 255
    bundle = read_npy(save_npy(tmp_path, x), OPTIONS)
    assert bundle.value_range == "binary" and bundle.train.dtype == torch.uint8
    assert set(bundle.as_float("train").unique().tolist()) <= {0.0, 1.0}


def test_uint8_table_is_read_as_numbers(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.uint8).reshape(4, 3)
    bundle = read_npy(save_npy(tmp_path, x), OPTIONS)
    assert (bundle.kind, bundle.levels, bundle.value_range) == ("table", None, "real")
    assert bundle.train.dtype == torch.float32


def test_channels_last_colour_images_become_channels_first(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((6, 4, 5, 3)).astype(np.float32)
    path = save_npy(tmp_path, x)
    bundle = read_npy(path, LoadOptions(test_fraction=0.5, seed=3))
    assert bundle.shape == (3, 4, 5) and bundle.levels is None
    train_idx, test_idx = split_indices(6, 0.5, 3, str(path))
    channels_first = np.moveaxis(x, 3, 1).reshape(6, -1)
    np.testing.assert_array_equal(bundle.train.numpy(), channels_first[train_idx])
    np.testing.assert_array_equal(bundle.test.numpy(), channels_first[test_idx])


def nan_at_3_1() -> np.ndarray:
    x = np.zeros((5, 2))
    x[3, 1] = np.nan
    return x


def inf_at_2_0() -> np.ndarray:
    x = np.zeros((5, 2))
    x[2, 0] = -np.inf
    return x


def too_big_for_float32() -> np.ndarray:
    x = np.zeros((5, 2))
    x[4, 1] = 1e300
    return x


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (nan_at_3_1(), "row 3, column 1 \\(counted from 0\\) is nan"),
        (inf_at_2_0(), "row 2, column 0 \\(counted from 0\\) is -inf"),
        (too_big_for_float32(), "row 4, column 1"),
        (np.zeros((0, 3)), "no data"),
        (np.zeros((3, 0)), "no data"),
        (np.arange(5.0), "1-D"),
        (np.zeros((2, 2, 2, 2, 2)), "5-D"),
        (np.zeros((3, 5, 4, 4)), "C = 1 or 3 channels"),
        (np.array([["a", "b"], ["c", "d"]]), "must be numbers"),
        (np.ones((1, 3)), "at least 2"),
    ],
    ids=["nan", "inf", "overflow", "no-rows", "no-columns", "1d", "5d", "channels", "str", "1row"],
)
def test_bad_arrays_are_data_errors_naming_the_file(tmp_path: Path, x: np.ndarray, match: str) -> None:
    path = save_npy(tmp_path, x)
    with pytest.raises(DataError, match=match) as info:
        read_npy(path, OPTIONS)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.arange(3), "one entry per example"),
        (np.array([0, 1, -1, 0]), "0..K-1"),
        (np.array([0.5, 1, 1, 0]), "whole numbers"),
        (np.array(["a", "b", "a", "b"]), "integers"),
    ],
)
def test_bad_labels(tmp_path: Path, y: np.ndarray, match: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), y=y)
    with pytest.raises(DataError, match=match):
        read_npz(path, OPTIONS)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_unreadable_files(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"definitely not numpy")
    reader = read_npy if suffix == ".npy" else read_npz
    with pytest.raises(DataError, match="cannot be read"):
        reader(path, OPTIONS)


def test_pickled_object_array_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[{"a": 1}, None]], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot be read .*pickled Python objects, which vaekit never loads"):
        read_npy(path, OPTIONS)


def test_a_file_that_is_no_npy_file_is_refused_without_numpys_pickle_advice(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(b"not an array at all")
    with pytest.raises(DataError, match=r"no NumPy header: not a .npy file\); save a numeric array") as caught:
        read_npy(path, OPTIONS)
    assert "allow_pickle" not in str(caught.value)
