"""How strongly each pair of columns of one table goes together, in one matrix for numbers and
categories alike (for the correlation picture of the quality report).

- two numbers: Pearson's r on the rows where both are present, in [-1, 1];
- two categories: Cramér's V (missing a category of its own), in [0, 1];
- a number and a category: the correlation ratio eta (the share of the number's spread that the
  category explains, square-rooted; rows where the number is present), in [0, 1].

V and eta are 0 for independence and 1 for a perfect link, like |r|; they have no sign, since
categories have no order. None of them needs a one-hot encoding.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import category_keys, column_groups, number_values, shared_codes

NAN = float("nan")


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Return Cramér's V in [0, 1] of two integer code arrays ``[N]`` (codes >= 0; NaN when either
    has one category only, or there are no rows)."""
    if not a.size:
        return NAN
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]  # categories that occur
    if min(table.shape) < 2:
        return NAN
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / a.size
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(min(1.0, chi2 / a.size / (min(table.shape) - 1))))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Return the correlation ratio eta in [0, 1] of a number ``values`` ``[N]`` (NaN = missing)
    on category ``codes`` ``[N]`` (integers >= 0): sqrt(between-category sum of squares / total
    sum of squares). NaN when the number is constant, or fewer than 2 categories hold a value."""
    present = ~np.isnan(values)
    codes, values = codes[present], values[present]
    if values.size < 2 or np.ptp(values) == 0:
        return NAN
    counts = np.bincount(codes)
    held = counts > 0
    if held.sum() < 2:
        return NAN
    mean = values.mean()
    means = np.bincount(codes, weights=values)[held] / counts[held]
    between = float((counts[held] * (means - mean) ** 2).sum())
    # Sums, not ``@``: a BLAS dot product on a busy shared core measured 8 ms per call here.
    total = float(np.square(values - mean).sum())
    return float(np.sqrt(min(1.0, between / total)))


def _pearson_matrix(numbers: list[np.ndarray]) -> np.ndarray:
    """Pearson's r of every pair of number columns on the rows where both are present (pandas'
    pairwise-complete correlation, compiled: fast on 20,000 rows), NaN for a constant column."""
    if not numbers:
        return np.empty((0, 0))
    matrix = np.array(pd.DataFrame(np.column_stack(numbers)).corr().to_numpy())  # writable (pandas 3 copy-on-write)
    for i, values in enumerate(numbers):
        present = values[~np.isnan(values)]
        if present.size < 2 or np.ptp(present) == 0:  # pandas may return float noise here
            matrix[i, :] = matrix[:, i] = NAN
    return np.clip(matrix, -1.0, 1.0)


def association_matrix(frame: pd.DataFrame, kinds: Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    """Return the column names (``kinds`` order, ``ignore`` left out) and the symmetric ``[C, C]``
    matrix of their associations (see the module docstring; 1 on the diagonal; NaN where a
    column is constant or all missing)."""
    groups = column_groups(kinds)
    columns = []
    for name, group in groups:
        if group == "number":
            columns.append(number_values(frame, name))
        else:
            columns.append(shared_codes([category_keys(frame, name)])[0][0])
    size = len(groups)
    number_index = [i for i, (_, group) in enumerate(groups) if group == "number"]
    matrix = np.eye(size)
    matrix[np.ix_(number_index, number_index)] = _pearson_matrix([columns[i] for i in number_index])
    for i in range(size):
        for j in range(i + 1, size):
            kind_i, kind_j = groups[i][1], groups[j][1]
            if kind_i == kind_j == "category":
                matrix[i, j] = matrix[j, i] = cramers_v(columns[i], columns[j])
            elif kind_i == "category" and kind_j == "number":
                matrix[i, j] = matrix[j, i] = correlation_ratio(columns[i], columns[j])
            elif kind_i == "number" and kind_j == "category":
                matrix[i, j] = matrix[j, i] = correlation_ratio(columns[j], columns[i])
    np.fill_diagonal(matrix, 1.0)
    return [name for name, _ in groups], matrix
