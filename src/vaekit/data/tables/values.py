"""One column's cells as the arrays a transform takes (category codes, numbers) and a
transform's output back as cells in the column's dtype; the check of a table's columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.tables.cells import is_missing, json_scalar, known_values, match_category, show_cells
from vaekit.data.tables.schema import ColumnSchema, TableSchema
from vaekit.runtime.errors import DataError
from vaekit.runtime.names import did_you_mean


def check_columns(df: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Return ``df`` (with its column names as text, as the schema has them) after checking
    that it has every modelled column of ``schema`` and no column outside it (ignored columns
    may be present or absent); raise ``DataError`` naming the columns otherwise."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"a table must be a pandas DataFrame, got {type(df).__name__}")
    if isinstance(df.columns, pd.MultiIndex):
        raise DataError("the table has multi-level column names; flatten them into one name per column")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise DataError(f"two columns are named {twice!r}; rename or drop one of them")
    absent = [c.name for c in schema.modelled if c.name not in names]
    known = set(schema.names)
    extra = [n for n in names if n not in known]
    if absent:
        listed, meant = _named_with_hints(absent, extra)
        raise DataError(
            f"the table lacks the column(s) {listed} that the model was trained on; "
            f"{'rename or add' if meant else 'add'} them (cells may be empty: missing cells are allowed)"
            f"{_reading_hint(names, schema)}"
        )
    if extra:
        listed, meant = _named_with_hints(extra, [n for n in schema.names if n not in names])
        raise DataError(
            f"the table has column(s) the model was not trained on: {listed}; {'rename or drop' if meant else 'drop'} them"
        )
    if any(not isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)  # a shallow copy: the caller's frame keeps its names
    return df


def _named_with_hints(names: list[str], others: list[str]) -> tuple[str, bool]:
    """Return ``(text, hinted)``: ``names`` quoted and joined, each followed by the name among
    ``others`` it likely misspells (``'species' (did you mean 'Species'?)``), and whether any was."""
    # Only the unmatched names on the other side are candidates: a column the table has under the
    # schema's own name is not the one a missing column was renamed to.
    hints = [did_you_mean(name, others) for name in names]
    return ", ".join(f"{name!r}{hint}" for name, hint in zip(names, hints, strict=True)), any(hints)


def _reading_hint(names: list[str], schema: TableSchema) -> str:
    """Return a hint when the column names read look like a misread file rather than a table
    with other columns: one column whose name holds the expected names joined by another
    delimiter, or names that look like values (a file without its header line)."""
    expected = [c.name for c in schema.modelled]
    if len(names) == 1 and any(sep in names[0] for sep in ";|\t"):
        return f". The file was read as one column named {names[0]!r}: is it separated by something else than its suffix says (a .csv holds commas, a .tsv tabs)?"
    if names and not set(names) & set(expected) and any(_looks_like_a_number(n) for n in names):
        return f". Its first line reads {', '.join(names[:4])}: the file seems to lack its header line; add one with the column names"
    return ""


def _looks_like_a_number(name: str) -> bool:
    """True for a column name that is a number, as a data row read as the header gives."""
    try:
        float(name.strip())
        return True
    except ValueError:
        return False


def unseen_categories(df: pd.DataFrame, column: ColumnSchema) -> np.ndarray:
    """Return a bool mask ``[N]`` of the cells of a binary/categorical column that hold a value
    none of its categories matches (missing cells are not unseen)."""
    series = df[column.name]
    categories = column.categories or []
    missing = is_missing(series)
    unseen = [v for v in pd.unique(series[~missing]) if match_category(v, categories) is None]
    return series.isin(unseen).to_numpy() & ~missing if unseen else np.zeros(len(series), dtype=bool)


def category_codes(df: pd.DataFrame, column: ColumnSchema) -> np.ndarray:
    """Return the codes (int64, -1 where missing) of a binary/categorical column's cells in
    ``df``; raise ``DataError`` naming the cells whose value is not one of its categories."""
    series = df[column.name]
    categories = column.categories or []
    missing = is_missing(series)
    exact: dict[tuple[type, Any], int] = {(type(c), c): i for i, c in enumerate(categories)}
    mapping: dict[Any, int] = {}
    unseen = []
    for value in pd.unique(series[~missing]):
        scalar = json_scalar(value)
        index = exact.get((type(scalar), scalar))
        if index is None:
            index = match_category(value, categories)
        if index is None:
            unseen.append(value)
        else:
            mapping[value] = index
    if unseen:
        rows = np.flatnonzero(series.isin(unseen).to_numpy() & ~missing)
        cells = list(series.iloc[rows])
        raise DataError(
            f"column {column.name!r} has a value never seen in training: {show_cells(df, cells, rows)}; "
            f"known values: {known_values(categories)}. Correct the cell, leave it empty (a missing cell is "
            "masked, and imputed by vaekit impute), or retrain on a table that has the value"
        )
    codes = np.full(len(series), -1, dtype=np.int64)
    if (~missing).any():
        codes[~missing] = series[~missing].map(mapping).to_numpy(dtype=np.int64)
    return codes


def column_numbers(df: pd.DataFrame, column: ColumnSchema) -> np.ndarray:
    """Return a numeric column's cells as float64 (NaN where missing); raise ``DataError``
    naming the cells that are text or infinite."""
    series = df[column.name]
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        # Plain floats (most columns of a large table, encoded row group by row group): NaN is
        # their only missing value, and pandas' general test costs more than the conversion.
        values = series.to_numpy(dtype=np.float64)
        missing = np.isnan(values)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        missing = is_missing(series)
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        missing = is_missing(series)
        values = pd.to_numeric(series.astype(object).where(~missing, None), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    bad = np.flatnonzero(~missing & ~np.isfinite(values))
    if len(bad):
        cells = list(series.iloc[bad])
        raise DataError(
            f"column {column.name!r} is numeric ({column.kind}) but has cells that are not (finite) numbers: "
            f"{show_cells(df, cells, bad)}; clean those cells (leave a cell empty when it is missing), or "
            "declare the column categorical and retrain"
        )
    return values


def restore_categories(codes: np.ndarray, column: ColumnSchema) -> pd.Series:
    """Return the categories of ``codes`` in the column's dtype as read."""
    categories = column.categories or []
    lookup = np.empty(len(categories), dtype=object)
    lookup[:] = categories
    values = lookup[np.asarray(codes, dtype=np.int64)]
    if column.dtype == "category":
        return pd.Series(pd.Categorical(values, categories=categories))
    return _as_dtype(pd.Series(values, dtype=object), column.dtype)


def restore_numbers(values: np.ndarray, column: ColumnSchema, *, clip: bool) -> pd.Series:
    """Return decoded numbers clipped (if ``clip``) to the schema's range, rounded for integer
    and count columns and to a continuous column's decimal places (``decimals``), in the
    column's dtype as read (float64 for whole numbers declared continuous)."""
    values = np.asarray(values, dtype=np.float64)
    if clip and column.minimum is not None and column.maximum is not None:
        values = np.clip(values, column.minimum, column.maximum)
    if column.kind == "continuous" and column.decimals is not None:
        values = np.round(values, column.decimals)
    whole = column.kind in ("integer", "count")
    if whole:
        values = np.rint(values)
    dtype = column.dtype
    try:
        target = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        target = None
    if target is not None and pd.api.types.is_integer_dtype(target):
        if not whole:
            return pd.Series(values, dtype="float64")
        # Out of the dtype's range only without clipping: hold the values at its edges.
        info = np.iinfo(target.numpy_dtype if hasattr(target, "numpy_dtype") else target)
        values = np.clip(values, max(info.min, -(2.0**63)), min(info.max, 2.0**63 - 1024))
        return pd.Series(values.astype(np.int64)).astype(target)
    if target is not None and pd.api.types.is_float_dtype(target):
        return pd.Series(values).astype(target)
    return pd.Series(values.astype(np.int64) if whole else values)


def _as_dtype(series: pd.Series, dtype: str) -> pd.Series:
    """Return ``series`` cast to ``dtype`` (a pandas dtype name), or as it is when it cannot be."""
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series
