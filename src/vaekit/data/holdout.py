"""Holding out a seeded test set from data that come without one (files, folders, synthetic5)."""

from __future__ import annotations

import numpy as np

from vaekit.data.bundle import DataBundle, bundle_from_arrays
from vaekit.data.validate import check_test_fraction
from vaekit.runtime.errors import DataError


def split_indices(
    n: int, test_fraction: float, seed: int, source: str, allow_no_test: bool = False, *, compact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(train_idx, test_idx)``: int64 row indices, disjoint, covering ``range(n)``.

    A seeded permutation picks ``round(n * test_fraction)`` test rows (at least one, and at
    least one left for training; none when ``allow_no_test`` and ``test_fraction`` is 0); both
    index arrays are sorted so the file order is kept. ``compact`` returns int32 indices when
    ``n`` allows (the same rows at half the memory: the permutation is drawn in int32, which
    gives the values int64 would), for splits of files larger than memory.
    """
    dtype = np.int32 if compact and n <= np.iinfo(np.int32).max else np.int64
    test_fraction = check_test_fraction(test_fraction, allow_zero=allow_no_test)
    if test_fraction == 0.0:
        return np.arange(n, dtype=dtype), np.arange(0, dtype=dtype)
    if n < 2:
        raise DataError(f"{source}: only {n} example(s); need at least 2 to make a train and a test set")
    n_test = min(max(int(round(n * test_fraction)), 1), n - 1)
    # Generator.permutation(n) is a shuffle of arange(n): the same draws whatever the dtype.
    perm = np.arange(n, dtype=dtype)
    np.random.default_rng(seed).shuffle(perm)
    train, test = perm[n_test:], perm[:n_test]
    train.sort()
    test.sort()
    return train, test


def split_bundle(
    name: str,
    x: np.ndarray,
    labels: np.ndarray | None,
    *,
    shape: tuple[int, ...],
    kind: str,
    value_range: str,
    levels: int | None,
    test_fraction: float,
    seed: int,
    source: str,
    hold_out: bool = True,
) -> DataBundle:
    """Return a ``DataBundle`` whose train/test sets are a seeded random split of the
    validated rows ``x`` (float32 model units, or uint8 grey levels with ``levels``) and int64
    ``labels``, if any; see ``split_indices``. ``hold_out=False`` keeps every row for training
    and an empty test set."""
    if hold_out:
        train_idx, test_idx = split_indices(x.shape[0], test_fraction, seed, source)
    else:
        train_idx, test_idx = split_indices(x.shape[0], 0.0, seed, source, allow_no_test=True)
    bundle = bundle_from_arrays(
        name,
        x[train_idx],
        x[test_idx],
        shape=shape,
        kind=kind,
        value_range=value_range,
        train_labels=None if labels is None else labels[train_idx],
        test_labels=None if labels is None else labels[test_idx],
        levels=levels,
    )
    bundle.file_rows = (train_idx, test_idx)
    return bundle
