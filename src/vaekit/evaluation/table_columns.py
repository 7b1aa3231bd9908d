"""Columns of a table as the table-quality metrics see them: numbers and categories, missing cells kept.

Every metric of the quality report works on plain pandas DataFrames plus a mapping of column kinds
(``{name: kind}``, the schema's kinds). The kinds fall into two groups:

- numbers (``continuous``, ``integer``, ``count``): float64 arrays with NaN where a cell is missing.
  A cell that is no finite number (text in a number column, an infinity) also counts as missing, so
  that one odd cell degrades a metric instead of stopping the report;
- categories (``binary``, ``categorical``): canonical text keys, with a missing cell as a category of
  its own (:data:`MISSING`). Keys are canonical so that the category read as ``1`` on one side and as
  ``1.0`` on the other (pandas makes an integer column float once it holds a missing cell) is one
  category, and text and numeric labels both work.

Columns of kind ``ignore`` (identifiers) are left out. A column named in ``kinds`` but absent from a
table is read as all missing there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

NUMBER_KINDS = ("continuous", "integer", "count")
CATEGORY_KINDS = ("binary", "categorical")

#: The key of a missing cell in a category column (a category of its own).
MISSING = "(missing)"

#: At most this many category codes enter a classifier (HistGradientBoosting takes at most 255 bins);
#: rarer categories share one "other" code.
MAX_TREE_CODES = 250


def column_groups(kinds: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return ``(name, group)`` for each column of ``kinds`` in order, ``group`` being ``"number"``
    or ``"category"``; ``ignore`` columns are left out. Raises ``ValueError`` on an unknown kind."""
    groups = []
    for name, kind in kinds.items():
        if kind in NUMBER_KINDS:
            groups.append((name, "number"))
        elif kind in CATEGORY_KINDS:
            groups.append((name, "category"))
        elif kind != "ignore":
            known = [*NUMBER_KINDS, *CATEGORY_KINDS, "ignore"]
            raise ValueError(f"column {name!r} has unknown kind {kind!r}; use one of {known}")
    return groups


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in frame.columns:
        return None
    column = frame[name]
    # A duplicated column name gives a DataFrame: the first of them is the column.
    return column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column


def number_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Return column ``name`` of ``frame`` as float64 ``[N]``, NaN where missing or not a finite number."""
    column = _column(frame, name)
    if column is None:
        return np.full(len(frame), np.nan)
    if pd.api.types.is_bool_dtype(column.dtype):
        column = column.astype("float64")
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.array(values, dtype=np.float64)  # a writable copy
    values[~np.isfinite(values)] = np.nan
    return values


def _key(value: Any) -> str:
    """Return the canonical key of one category cell (see the module docstring)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return MISSING
        return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
    return str(value)


def category_keys(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Return column ``name`` of ``frame`` as canonical text keys (object ``[N]``), ``MISSING`` where missing."""
    column = _column(frame, name)
    if column is None:
        return np.full(len(frame), MISSING, dtype=object)
    dtype = column.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        # Vectorised for the common case (codes and flags stored as numbers).
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        keys = np.full(len(values), MISSING, dtype=object)
        finite = np.isfinite(values)
        whole = finite & (np.abs(values) < 2**53)
        whole[whole] = values[whole] == np.round(values[whole])
        keys[whole] = values[whole].astype(np.int64).astype(str)
        fraction = finite & ~whole
        keys[fraction] = [repr(float(v)) for v in values[fraction]]
        return keys
    return np.array([_key(v) for v in column.to_numpy(dtype=object)], dtype=object)


def shared_codes(keys: Sequence[np.ndarray], limit: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Return integer codes ``[N_i]`` for each key array of ``keys`` under one shared vocabulary,
    and that vocabulary. Codes are ordered by frequency in the first array (ties: first seen), so
    code 0 is the first table's commonest category. With ``limit``, codes ``>= limit`` become
    ``limit`` (one "other" code, named ``"(other)"`` in the vocabulary)."""
    sizes = [len(k) for k in keys]
    codes, uniques = pd.factorize(np.concatenate(keys) if keys else np.empty(0, dtype=object))
    counts = np.bincount(codes[: sizes[0]], minlength=len(uniques)) if sizes else np.zeros(len(uniques))
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    codes = rank[codes]
    vocabulary = [str(uniques[i]) for i in order]
    if limit is not None and len(vocabulary) > limit:
        codes = np.minimum(codes, limit)
        vocabulary = [*vocabulary[:limit], "(other)"]
    return list(np.split(codes, np.cumsum(sizes)[:-1])), vocabulary


def quantile_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Return the inner edges of ``bins`` quantile bins of the non-missing ``values`` (repeated
    edges merged, so a point mass such as the zeros of an amount is one bin; empty when none)."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def bin_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the bin of each value under inner ``edges`` (0..len(edges)), and ``len(edges) + 1``
    for a missing value (a bin of its own)."""
    codes = np.searchsorted(edges, values, side="right").astype(np.int64)
    codes[np.isnan(values)] = len(edges) + 1
    return codes


def subsample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return ``n`` rows of ``frame`` drawn without replacement (all of it, in order, when it has no more)."""
    if len(frame) <= n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))]


def tree_features(
    frames: Sequence[pd.DataFrame], groups: Sequence[tuple[str, str]]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Return a float64 feature matrix ``[N_i, C]`` for each of ``frames`` and the boolean mask
    ``[C]`` of category features, for a HistGradientBoosting model: numbers as they are (NaN for
    missing, handled natively), categories as shared codes (missing its own code, at most
    ``MAX_TREE_CODES`` + 1 codes). Without columns, one constant feature (the model then predicts
    the prior)."""
    columns: list[list[np.ndarray]] = [[] for _ in frames]
    mask = []
    for name, group in groups:
        if group == "number":
            parts = [number_values(frame, name) for frame in frames]
        else:
            parts, _ = shared_codes([category_keys(frame, name) for frame in frames], limit=MAX_TREE_CODES)
        for out, part in zip(columns, parts, strict=True):
            out.append(np.asarray(part, dtype=np.float64))
        mask.append(group == "category")
    if not mask:
        return [np.zeros((len(frame), 1)) for frame in frames], np.zeros(1, dtype=bool)
    return [np.column_stack(c) for c in columns], np.array(mask)


def categorical_or_none(mask: np.ndarray) -> np.ndarray | None:
    """Return ``mask`` for HistGradientBoosting's ``categorical_features``, None when it marks nothing."""
    return mask if mask.any() else None


def usable_features(x: np.ndarray, mask: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return ``x``, ``mask`` and ``others`` without the features that are missing in every row
    of ``x`` (HistGradientBoosting cannot bin a feature with no value); one constant feature
    when none is left."""
    keep = ~np.all(np.isnan(x), axis=0)
    if not keep.any():
        return (np.zeros((len(x), 1)), np.zeros(1, dtype=bool), *(np.zeros((len(o), 1)) for o in others))
    return (x[:, keep], mask[keep], *(o[:, keep] for o in others))


def one_thread() -> Any:
    """Return a context manager that runs OpenMP (HistGradientBoosting) on one thread.

    Why: on tables of hundreds to tens of thousands of rows the boosting spends most of its time
    synchronising threads, and on shared cores a busy neighbour makes that pathological (measured
    on 2 shared cores: penguins' efficacy 1.3 s on one thread vs 11 s on two; randhie's detection
    2.6 s vs 33 s)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")
