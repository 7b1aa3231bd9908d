"""The shared checks every reader goes through."""

from __future__ import annotations

import numpy as np
import pytest

from vaekit.data.validate import as_features, as_grey_levels, as_labels, check_test_fraction, infer_value_range
from vaekit.runtime.errors import DataError


def test_as_features_returns_contiguous_float32() -> None:
    x = np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2]
    out = as_features(x, "src")
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, x)


def with_value(value: float, row: int = 1, col: int = 2) -> np.ndarray:
    x = np.zeros((3, 4))
    x[row, col] = value
    return x


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (with_value(np.nan), "src: row 1, column 2 \\(counted from 0\\) is nan"),
        (with_value(np.inf, 2, 0), "src: row 2, column 0 \\(counted from 0\\) is inf"),
        (with_value(-np.inf, 0, 3), "src: row 0, column 3 \\(counted from 0\\) is -inf"),
        (with_value(1e39), "src: row 1, column 2 \\(counted from 0\\) is 1e\\+39"),
        (np.zeros((0, 4)), "src: no data"),
        (np.zeros((4, 0)), "src: no data"),
        (np.zeros(4), "src: expected a 2-D array .* got 1-D"),
        (np.zeros((2, 2, 2)), "src: expected a 2-D array .* got 3-D"),
        (np.array([["1", "2"]]), "src: values must be numbers"),
        (np.array([[1 + 2j, 0]]), "src: values must be numbers"),
    ],
    ids=["nan", "inf", "-inf", "overflow", "no-rows", "no-cols", "1d", "3d", "str", "complex"],
)
def test_as_features_rejects(x: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        as_features(x, "src")


def test_position_names_cells_in_the_callers_terms() -> None:
    with pytest.raises(DataError, match="line 7, col B"):
        as_features(with_value(np.nan), "f.csv", position=lambda r, c: f"line {r + 6}, col B")


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (np.array([[0.0, 1.0], [1.0, 1.0]]), "binary"),
        (np.array([[0.0, 0.0]]), "binary"),
        (np.array([[0.0, 0.5], [1.0, 1.0]]), "unit"),
        (np.array([[0.0, 1.01]]), "real"),
        (np.array([[-0.01, 0.5]]), "real"),
    ],
)
def test_infer_value_range(x: np.ndarray, expected: str) -> None:
    assert infer_value_range(x) == expected


@pytest.mark.parametrize("good", [0.01, 0.2, 0.99])
def test_check_test_fraction_accepts(good: float) -> None:
    assert check_test_fraction(good) == good


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan"), "a lot", None])
def test_check_test_fraction_rejects(bad) -> None:
    with pytest.raises(DataError, match="test_fraction"):
        check_test_fraction(bad)


def test_as_labels_accepts_whole_floats() -> None:
    out = as_labels(np.array([0.0, 2.0, 1.0]), 3, "src")
    assert out.dtype == np.int64 and out.tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array([0, 1]), "one entry per example"),
        (np.zeros((3, 1)), "one entry per example"),
        (np.array([0, -1, 2]), "0..K-1"),
        (np.array([0.0, np.nan, 1.0]), "whole numbers"),
        (np.array([True, False, True]).astype(object), "integers"),
    ],
)
def test_as_labels_rejects(y: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        as_labels(y, 3, "src")


def test_as_grey_levels_keeps_uint8_without_a_copy() -> None:
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = as_grey_levels(x, 256, "src")
    assert out.dtype == np.uint8 and np.shares_memory(out, x)


def test_as_grey_levels_converts_whole_floats() -> None:
    x = np.array([[0.0, 16.0], [3.0, 7.0]])
    out = as_grey_levels(x, 17, "src")
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize(
    ("x", "levels", "match"),
    [
        (np.array([[0.0, 17.0]]), 17, "row 0, column 1 \\(counted from 0\\) is 17.0, not a grey level .* 0 to 16"),
        (np.array([[0.0, 1.5]]), 17, "row 0, column 1 \\(counted from 0\\) is 1.5"),
        (np.array([[-1.0, 0.0]]), 17, "row 0, column 0 \\(counted from 0\\) is -1.0"),
        (np.array([[0.0, np.nan]]), 17, "row 0, column 1 \\(counted from 0\\) is nan"),
        (np.array([[0, 300]]), 256, "row 0, column 1 \\(counted from 0\\) is 300"),
        (np.zeros((0, 3), dtype=np.uint8), 256, "no data"),
        (np.zeros(3, dtype=np.uint8), 256, "expected a 2-D array"),
        (np.array([["1"]]), 256, "must be numbers"),
    ],
    ids=["above", "fraction", "negative", "nan", "int-above", "no-rows", "1d", "str"],
)
def test_as_grey_levels_rejects(x: np.ndarray, levels: int, match: str) -> None:
    with pytest.raises(DataError, match=match):
        as_grey_levels(x, levels, "src")


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (np.array([[0, 255]], dtype=np.uint8), "binary"),
        (np.array([[0, 1]], dtype=np.uint8), "unit"),  # 1/255 is a grey level, not white
        (np.array([[0, 128]], dtype=np.uint8), "unit"),
    ],
)
def test_infer_value_range_of_grey_levels(x: np.ndarray, expected: str) -> None:
    assert infer_value_range(x, 256) == expected
