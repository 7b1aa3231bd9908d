"""Seeded test sets held out of data that come without one."""

from __future__ import annotations

import numpy as np
import pytest

from vaekit.data.holdout import split_bundle, split_indices
from vaekit.runtime.errors import DataError


@pytest.mark.parametrize(("n", "fraction", "n_test"), [(10, 0.2, 2), (2, 0.01, 1), (2, 0.99, 1), (7, 0.5, 4)])
def test_sizes_disjoint_and_covering(n: int, fraction: float, n_test: int) -> None:
    train, test = split_indices(n, fraction, 0, "src")
    assert len(test) == n_test and len(train) == n - n_test
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))
    assert list(train) == sorted(train) and list(test) == sorted(test)


def test_seeded() -> None:
    a, b, c = (split_indices(100, 0.2, s, "src")[1] for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_rows(n: int) -> None:
    with pytest.raises(DataError, match="src: only .* need at least 2"):
        split_indices(n, 0.2, 0, "src")


def test_bad_fraction() -> None:
    with pytest.raises(DataError, match="test_fraction"):
        split_indices(10, 1.0, 0, "src")


def test_split_bundle_keeps_rows_and_labels_together() -> None:
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.int64)
    bundle = split_bundle(
        "t",
        x,
        y,
        shape=(2,),
        kind="table",
        value_range="real",
        levels=None,
        test_fraction=0.3,
        seed=0,
        source="t",
    )
    for xs, ys in ((bundle.train, bundle.train_labels), (bundle.test, bundle.test_labels)):
        assert (xs[:, 0] == ys.float() * 2).all()
    assert bundle.test.shape == (3, 2)
