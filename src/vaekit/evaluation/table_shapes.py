"""Column shapes and pair trends of a synthetic table against a real one, and the quality score.

All scores are similarities in [0, 1] (1 = identical; no unit), computed on the two tables as given
(the report passes held-out real rows and synthetic rows). They follow SDMetrics' QualityReport
(``sdmetrics`` 0.32: ColumnShapes, ColumnPairTrends); the docstrings say where they differ.
A score that cannot be computed is NaN, and its ``note`` in the ``*_details`` form says why.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import (
    MISSING,
    bin_codes,
    category_keys,
    column_groups,
    number_values,
    quantile_edges,
    shared_codes,
)

#: Quantile bins of a number when it is paired with a category (SDMetrics also uses 10 bins).
PAIR_BINS = 10


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Return the two-sample Kolmogorov-Smirnov statistic (largest gap between the two empirical
    CDFs, in [0, 1]) of the values ``a`` and ``b`` (no NaN; both non-empty)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(gap)))


def tv_distance(a: np.ndarray, b: np.ndarray, size: int) -> float:
    """Return the total variation distance (half the L1 distance, in [0, 1]) between the
    frequencies of the integer codes ``a`` and ``b`` (both in ``[0, size)``, both non-empty)."""
    p = np.bincount(a, minlength=size) / a.size
    q = np.bincount(b, minlength=size) / b.size
    return float(0.5 * np.abs(p - q).sum())


def column_shape_details(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Return, per column, ``{"metric", "score", "missing_real", "missing_synthetic"[, "note"]}``:
    ``score`` as in :func:`column_shapes`, the shares of missing cells (fractions in [0, 1]) on
    each side, and a note where the score is NaN."""
    details: dict[str, dict[str, Any]] = {}
    for name, group in column_groups(kinds):
        if group == "number":
            r, s = number_values(real, name), number_values(synthetic, name)
            entry: dict[str, Any] = {"metric": "KS complement"}
            r_present, s_present = r[~np.isnan(r)], s[~np.isnan(s)]
            if r_present.size and s_present.size:
                entry["score"] = 1.0 - ks_statistic(r_present, s_present)
            else:
                side = "real" if not r_present.size else "synthetic"
                entry.update(score=float("nan"), note=f"no non-missing values on the {side} side")
            r_missing, s_missing = np.isnan(r), np.isnan(s)
        else:
            (r, s), vocabulary = shared_codes([category_keys(real, name), category_keys(synthetic, name)])
            entry = {"metric": "TV complement"}
            if r.size and s.size:
                entry["score"] = 1.0 - tv_distance(r, s, len(vocabulary))
            else:
                entry.update(score=float("nan"), note="no rows on one side")
            missing_code = vocabulary.index(MISSING) if MISSING in vocabulary else -1
            r_missing, s_missing = r == missing_code, s == missing_code
        entry["missing_real"] = float(r_missing.mean()) if r_missing.size else float("nan")
        entry["missing_synthetic"] = float(s_missing.mean()) if s_missing.size else float("nan")
        details[name] = entry
    return details


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, float]:
    """Return each column's shape similarity in [0, 1] (1 = identical), keyed by column name.

    Numbers (continuous, integer, count): 1 - the Kolmogorov-Smirnov statistic of the non-missing
    values, as SDMetrics' KSComplement (NaN when one side has no value). Categories (binary,
    categorical): 1 - the total variation distance of the category frequencies with a missing
    cell as a category of its own; SDMetrics' TVComplement (as read) drops missing cells instead,
    so here a wrong share of missing cells lowers the score."""
    return {name: d["score"] for name, d in column_shape_details(real, synthetic, kinds).items()}


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Return Pearson's r in [-1, 1] of ``x`` and ``y`` ``[N]`` on the rows where both are present
    (not NaN); NaN for fewer than 2 such rows or a constant column."""
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    # np.ptp, not the std: the mean of a constant is not always exactly the constant in floats.
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    # Sums, not ``@``: a BLAS dot product on a busy shared core measured milliseconds per call.
    return float(np.clip((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()), -1.0, 1.0))


def pair_trend_details(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], *, bins: int = PAIR_BINS
) -> dict[str, dict[str, Any]]:
    """Return, per pair ``"a|b"`` (columns in ``kinds`` order, each pair once), ``{"metric",
    "score"[, "real", "synthetic"][, "note"]}``: the score as in :func:`pair_trends`, and for two
    numbers the Pearson correlation on each side."""
    groups = column_groups(kinds)
    values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    codes: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for name, group in groups:
        if group == "number":
            r, s = number_values(real, name), number_values(synthetic, name)
            values[name] = (r, s)
            edges = quantile_edges(r, bins)  # the real table's bins, used on both sides
            codes[name] = (bin_codes(r, edges), bin_codes(s, edges), len(edges) + 2)
        else:
            (r, s), vocabulary = shared_codes([category_keys(real, name), category_keys(synthetic, name)])
            codes[name] = (r, s, len(vocabulary))
    details: dict[str, dict[str, Any]] = {}
    for (a, group_a), (b, group_b) in itertools.combinations(groups, 2):
        if group_a == group_b == "number":
            corr_r = pearson(values[a][0], values[b][0])
            corr_s = pearson(values[a][1], values[b][1])
            entry: dict[str, Any] = {"metric": "correlation", "real": corr_r, "synthetic": corr_s}
            entry["score"] = 1.0 - abs(corr_r - corr_s) / 2.0
            if np.isnan(entry["score"]):
                entry["note"] = "correlation undefined: a constant column or fewer than 2 rows with both present"
        else:
            ra, sa, ka = codes[a]
            rb, sb, kb = codes[b]
            entry = {"metric": "contingency"}
            if ra.size and sa.size:
                entry["score"] = 1.0 - tv_distance(ra * kb + rb, sa * kb + sb, ka * kb)
            else:
                entry.update(score=float("nan"), note="no rows on one side")
        details[f"{a}|{b}"] = entry
    return details


def pair_trends(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], *, bins: int = PAIR_BINS
) -> dict[str, float]:
    """Return each column pair's trend similarity in [0, 1] (1 = identical), keyed ``"a|b"``.

    - Two numbers: 1 - |r_real - r_synthetic| / 2 with Pearson's r, as SDMetrics'
      CorrelationSimilarity. Differs: r is taken on the rows where both cells are present
      (SDMetrics fills missing cells with 0 first). Same: NaN when a column is constant.
    - Two categories: 1 - the total variation distance of the two joint frequency tables
      (contingency tables) with missing as a category, as SDMetrics' ContingencySimilarity.
    - A number and a category: the number is cut into ``bins`` quantile bins of the *real* values
      (the same edges on both sides, a missing value its own bin) and the contingency tables are
      compared as above. Differs: SDMetrics' ColumnPairTrends cuts each table with 10 equal-width
      bins over that table's own range, which a heavy tail squeezes into one or two bins and
      which compares different bins on the two sides."""
    return {pair: d["score"] for pair, d in pair_trend_details(real, synthetic, kinds, bins=bins).items()}


def _nanmean(values: Any) -> float:
    array = np.asarray(list(values), dtype=np.float64)
    array = array[~np.isnan(array)]
    return float(array.mean()) if array.size else float("nan")


def quality_score(shapes: Mapping[str, float], trends: Mapping[str, float]) -> float:
    """Return the overall quality score in [0, 1]: the mean of the mean column shape and the mean
    pair trend (SDMetrics' rule: each property is the mean of its scores, the overall score the
    mean of the properties). NaN scores are skipped; a missing property (one column: no pairs) is
    left out; NaN when nothing could be computed."""
    return _nanmean([_nanmean(shapes.values()), _nanmean(trends.values())])
