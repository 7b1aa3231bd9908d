"""The columns a conditional model is given (``condition_on``): their joint index, its
training frequencies, and the matching of ``--where`` values to categories.

The joint index of a row is the row-major (C order) index of its categories' codes over the
product of the condition columns' categories, in ``condition_on`` order: with species (3
categories) and sex (2), (Gentoo, male) = 2 * 2 + 1 = 5. There are ``num`` joint values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.tables.cells import is_missing, known_values, match_category, show_cells, text_form
from vaekit.runtime.errors import DataError


class Conditions:
    """Condition columns ``columns`` with their ``categories``; ``counts`` holds the training
    rows of each joint value (``num`` of them)."""

    def __init__(self, columns: Sequence[str], categories: Sequence[Sequence[Any]], counts: Sequence[int]) -> None:
        self.columns = list(columns)
        self.categories = [list(c) for c in categories]
        self.sizes = tuple(len(c) for c in self.categories)
        self.num = int(np.prod(self.sizes)) if self.sizes else 0
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(self.counts) != self.num:
            raise ValueError(f"{len(self.counts)} counts for {self.num} joint condition values")

    def codes(self, df: pd.DataFrame, name: str, categories: Sequence[Any]) -> np.ndarray:
        """Return the category codes of condition column ``name`` in ``df``; raise ``DataError``
        for a missing cell or a value not among ``categories``."""
        series = df[name]
        missing = is_missing(series)
        if missing.any():
            rows = np.flatnonzero(missing)
            raise DataError(
                f"column {name!r} is a condition of the model but has missing cells "
                f"({show_cells(df, ['(empty)'] * len(rows), rows)}); drop those rows, or do not condition on {name!r}"
            )
        mapping: dict[Any, int] = {}
        for value in pd.unique(series):
            index = match_category(value, categories)
            if index is None:
                rows = np.flatnonzero((series == value).to_numpy())
                raise DataError(
                    f"column {name!r} has a value the model never saw: {show_cells(df, [value] * len(rows), rows)}; "
                    f"seen: {known_values(categories)}; clean or drop those rows"
                )
            mapping[value] = index
        return series.map(mapping).to_numpy(dtype=np.int64)

    def labels(self, df: pd.DataFrame) -> np.ndarray:
        """Return each row's joint condition index (int64 ``[N]``)."""
        codes = [self.codes(df, name, cats) for name, cats in zip(self.columns, self.categories, strict=True)]
        return np.ravel_multi_index(codes, self.sizes).astype(np.int64)

    def unravel(self, labels: np.ndarray) -> dict[str, np.ndarray]:
        """Return each condition column's category codes for joint indices ``labels``."""
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"condition labels must be a 1-D array of integers, got {labels.dtype} {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num):
            raise DataError(f"condition labels must lie in 0..{self.num - 1}, got {labels.min()}..{labels.max()}")
        return dict(zip(self.columns, np.unravel_index(labels, self.sizes), strict=True))

    def index(self, where: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(indices, weights)``: the joint indices compatible with ``where`` (a partial
        or full ``{column: value}``; values may be text such as "Gentoo", "1", "True") and their
        shares of the training rows among them (float64, summing to 1), by which to draw the
        columns ``where`` leaves open. Raises ``DataError`` for a column that is not a
        condition, a value never seen, or a combination no training row had."""
        fixed: dict[int, int] = {}
        for name, value in where.items():
            if name not in self.columns:
                raise DataError(
                    f"the model is not conditioned on column {name!r}; it is conditioned on: "
                    f"{', '.join(self.columns) or '(none)'}; train with --condition-on {name} to fix it exactly"
                )
            position = self.columns.index(name)
            cats = self.categories[position]
            found = match_category(value, cats)
            if found is None:
                raise DataError(f"column {name!r} has no value {text_form(value)!r}; seen: {known_values(cats)}")
            fixed[position] = found
        grid = np.unravel_index(np.arange(self.num), self.sizes)
        keep = np.ones(self.num, dtype=bool)
        for position, code in fixed.items():
            keep &= grid[position] == code
        indices = np.flatnonzero(keep).astype(np.int64)
        counts = self.counts[indices].astype(np.float64)
        if counts.sum() == 0:
            asked = ", ".join(f"{k}={text_form(v)}" for k, v in where.items())
            raise DataError(
                f"no training row has {asked}; the model never saw that combination: pick values seen together"
            )
        return indices, counts / counts.sum()

    def to_dict(self) -> dict[str, Any]:
        """Return the training counts of the joint values (the columns and categories live in
        the codec's schema)."""
        return {"columns": list(self.columns), "counts": [int(c) for c in self.counts]}
