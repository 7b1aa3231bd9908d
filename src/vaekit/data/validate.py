"""Checks shared by every reader: one place decides what counts as usable data."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vaekit.runtime.errors import DataError


def array_position(row: int, col: int) -> str:
    """Return how an error message names a cell: by its numpy indices, said to count from 0
    (a table's messages count its rows from 1, as an editor does)."""
    return f"row {row}, column {col} (counted from 0)"


def check_test_fraction(test_fraction: float, allow_zero: bool = False) -> float:
    """Return ``test_fraction`` (a fraction of the examples, no unit) if it lies in (0, 1), or
    in [0, 1) with ``allow_zero`` (tables, whose estimator may train on every row)."""
    try:
        value = float(test_fraction)
    except (TypeError, ValueError):
        value = math.nan
    # `not (0 < v < 1)` also rejects NaN, which a plain range comparison would let through.
    if not (0.0 <= value < 1.0 if allow_zero else 0.0 < value < 1.0):
        low = "0 (inclusive: a table may keep no test rows)" if allow_zero else "0"
        raise DataError(
            f"test_fraction must be a number between {low} and 1 (exclusive), got {test_fraction!r}; "
            "use e.g. 0.2 to hold out 20% of the examples"
        )
    return value


def as_features(
    x: np.ndarray,
    source: str,
    *,
    position: Callable[[int, int], str] = array_position,
) -> np.ndarray:
    """Validate examples and return them as a C-contiguous float32 ``[N, D]`` array.

    Raises ``DataError`` naming ``source`` when the array is not 2-D, not numeric, has no
    rows or no columns, or holds NaN/inf (naming the first bad row and column; ``position``
    turns 0-based (row, column) indices into words, e.g. a CSV line number).
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"{source}: expected a 2-D array (one example per row), got {x.ndim}-D shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{source}: values must be numbers, got dtype {x.dtype}; convert the data to integers or floats"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{source}: no data (shape {x.shape}); need at least one row and one column")
    # Check after the float32 cast so values too large for float32 are caught as inf too.
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(x, dtype=np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        row, col = (int(i) for i in np.argwhere(~finite)[0])
        raise DataError(
            f"{source}: {position(row, col)} is {x[row, col].item()!r}, not a finite "
            "number (NaN, inf, or too large for float32); remove or fill in such values"
        )
    return out


def as_grey_levels(x: np.ndarray, levels: int, source: str) -> np.ndarray:
    """Validate integer grey levels and return them as a C-contiguous uint8 ``[N, D]`` array.

    ``x`` holds whole numbers ``0 .. levels - 1`` (``levels`` at most 256) of any numeric
    dtype; a uint8 array that is already C-contiguous is returned without a copy (8-bit
    images need no value check). Raises ``DataError`` naming ``source`` when the array is not
    2-D, not numeric or empty, or names the first value that is not a grey level.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"{source}: expected a 2-D array (one example per row), got {x.ndim}-D shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: grey levels must be numbers, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{source}: no data (shape {x.shape}); need at least one row and one column")
    if not (x.dtype == np.uint8 and levels == 256):
        with np.errstate(invalid="ignore"):
            bad = ~((x >= 0) & (x <= levels - 1) & (x == np.round(x)))
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"{source}: {array_position(row, col)} is {x[row, col].item()!r}, not a grey "
                f"level (a whole number from 0 to {levels - 1})"
            )
    return np.ascontiguousarray(x, dtype=np.uint8)


def as_labels(y: np.ndarray, n: int, source: str) -> np.ndarray:
    """Validate class labels and return them as int64 ``[n]`` (class indices 0..K-1)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"{source}: labels must be 1-D with one entry per example ({n}), got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{source}: labels must be integers, got dtype {y.dtype}")
    # Float labels are accepted when they are whole numbers (e.g. saved by a float pipeline).
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError(f"{source}: labels must be whole numbers (class indices 0..K-1)")
    if n and y.min() < 0:
        raise DataError(
            f"{source}: labels must be class indices 0..K-1, found {y.min()}; map the classes to 0..K-1 first"
        )
    return y.astype(np.int64)


def infer_value_range(x: np.ndarray, levels: int | None = None) -> str:
    """Return ``"binary"`` if every value is 0 or 1, ``"unit"`` if all lie in [0, 1], else
    ``"real"`` (this decides which likelihood a decoder can use). uint8 ``x`` holds grey
    levels (``levels`` of them): judged by their values in model units, ``level / (levels - 1)``."""
    if x.dtype == np.uint8:
        if levels is None:
            raise DataError("uint8 grey levels need their number of levels to judge their value range")
        return "binary" if np.isin(x, (0, levels - 1)).all() else "unit"
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        return "real"
    if np.isin(x, (0.0, 1.0)).all():
        return "binary"
    return "unit"
