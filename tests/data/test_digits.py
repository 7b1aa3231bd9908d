"""sklearn digits: shapes, scaling, and the split being the same for everyone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data.digits import read_digits
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return read_digits(LoadOptions())


def test_shapes_and_metadata(digits) -> None:
    assert digits.name == "digits"
    assert digits.train.shape == (1437, 64) and digits.test.shape == (360, 64)
    assert digits.train.shape[0] + digits.test.shape[0] == 1797
    assert digits.train.dtype == torch.uint8 and digits.train_labels.dtype == torch.int64
    assert digits.shape == (1, 8, 8) and digits.kind == "image"
    assert digits.value_range == "unit" and digits.levels == 17
    assert digits.num_classes == 10


def test_values_are_the_17_grey_levels_of_sklearn(digits) -> None:
    from sklearn.datasets import load_digits

    both = torch.cat([digits.train, digits.test])
    assert both.min() == 0 and both.max() == 16
    raw = load_digits().data  # float64 0..16, in sklearn's order (the split permutes rows)
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, raw.astype(int).tolist()))


def test_float_values_are_exactly_what_the_float_reader_gave(digits) -> None:
    # Before the reader kept uint8 it returned float32(level) / float32(16); as_float must match.
    both = torch.cat([digits.train, digits.test])
    old = torch.from_numpy(both.numpy().astype(np.float32) / np.float32(16))
    assert torch.equal(torch.cat([digits.as_float("train"), digits.as_float("test")]), old)


def test_split_is_stratified(digits) -> None:
    counts = digits.test_labels.bincount(minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_split_is_identical_across_calls_and_seeds(digits) -> None:
    again = read_digits(LoadOptions(seed=123))
    assert torch.equal(digits.train, again.train) and torch.equal(digits.test, again.test)
    assert torch.equal(digits.test_labels, again.test_labels)


def test_test_fraction_changes_the_split_size() -> None:
    bundle = read_digits(LoadOptions(test_fraction=0.5))
    assert bundle.test.shape[0] in (898, 899)
    assert bundle.train.shape[0] + bundle.test.shape[0] == 1797


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_bad_test_fraction(bad: float) -> None:
    with pytest.raises(DataError, match="test_fraction"):
        read_digits(LoadOptions(test_fraction=bad))
