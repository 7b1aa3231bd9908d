"""Pictures for the quality report of a synthetic table: each column real vs synthetic, and the
two tables' column-association matrices side by side.

Both take plain pandas DataFrames and a mapping of column kinds (``{name: kind}``, as in
``vaekit.evaluation.table_quality``) and return a matplotlib ``Figure`` (Agg backend, see
``viz/figure.py``); ``picture_png`` turns it into PNG bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_associations import association_matrix
from vaekit.evaluation.table_columns import category_keys, column_groups, number_values, shared_codes
from vaekit.evaluation.table_shapes import column_shape_details
from vaekit.viz.figure import new_figure

REAL_COLOUR = "#4c72b0"
SYNTHETIC_COLOUR = "#dd8452"
#: Bars shown per category column; the rest are summed into one "other" bar.
TOP_CATEGORIES = 8
#: Histogram bins of a number column (a whole-number column with a small range gets one bin per value).
NUMBER_BINS = 30


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _percent(share: float) -> str:
    if share == 0 or share >= 0.01:
        return f"{share:.0%}"
    return f"{share:.1%}" if share >= 0.001 else "<0.1%"


def _compact(value: float, _position: Any = None) -> str:
    """Format a tick without crowding: 125000 -> 125k, 2.5e6 -> 2.5M."""
    for threshold, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _number_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray, kind: str) -> list[str]:
    """Overlay the two histograms on shared bins (heights: share of the non-missing values);
    return notes for the x label."""
    r, s = real[~np.isnan(real)], synthetic[~np.isnan(synthetic)]
    pooled = np.concatenate([r, s])
    if not pooled.size:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, color="grey")
        return []
    notes = []
    low, high = float(pooled.min()), float(pooled.max())
    whole = kind in ("integer", "count") or bool(np.all(pooled == np.round(pooled)))
    if whole and high - low <= 50:
        edges = np.arange(low - 0.5, high + 1.5)  # one bar per value
    else:
        # A heavy tail would squeeze the body into one bar: show the central 99 % and fold the tails
        # into the end bins, saying so.
        q_low, q_high = (float(v) for v in np.quantile(pooled, [0.005, 0.995]))
        if q_high > q_low and high - low > 4 * (q_high - q_low):
            low, high = q_low, q_high
            notes.append("tails folded into end bins")
        edges = np.linspace(low, high, NUMBER_BINS + 1) if high > low else np.array([low - 0.5, low + 0.5])
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=whole))
    ax.xaxis.set_major_formatter(FuncFormatter(_compact))
    for values, colour, style in (
        (r, REAL_COLOUR, {"histtype": "stepfilled", "alpha": 0.45}),
        (s, SYNTHETIC_COLOUR, {"histtype": "step", "linewidth": 1.6}),
    ):
        if values.size:
            clipped = np.clip(values, edges[0], edges[-1])
            ax.hist(clipped, bins=edges, weights=np.full(values.size, 1.0 / values.size), color=colour, **style)
    return notes


def _category_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray) -> None:
    """Side-by-side bars of the category shares (missing a category of its own), the real
    table's commonest first; beyond ``TOP_CATEGORIES`` the rest share one "other" bar."""
    (r, s), vocabulary = shared_codes([real, synthetic])
    size = len(vocabulary)
    shares = [np.bincount(c, minlength=size) / max(c.size, 1) for c in (r, s)]
    labels = list(vocabulary)
    if size > TOP_CATEGORIES + 1:
        labels = [*labels[:TOP_CATEGORIES], f"other ({size - TOP_CATEGORIES})"]
        shares = [np.append(p[:TOP_CATEGORIES], p[TOP_CATEGORIES:].sum()) for p in shares]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, shares[0], 0.4, color=REAL_COLOUR, alpha=0.8)
    ax.bar(x + 0.2, shares[1], 0.4, color=SYNTHETIC_COLOUR, alpha=0.9)
    ax.set_xticks(x)
    short = [_short(label, 10) for label in labels]
    crowded = len(short) > 6 or sum(len(label) for label in short) > 24
    ax.set_xticklabels(short, rotation=35 if crowded else 0, ha="right" if crowded else "center", fontsize=7)


def column_comparison_figure(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], *, max_columns: int | None = None
) -> Any:
    """Return a matplotlib Figure of small multiples, one panel per column of ``kinds`` (the first
    ``max_columns`` when given): for a number, the real and synthetic histograms on shared bins
    (heights: share of the non-missing values; a heavy tail folded into the end bins, said in the
    x label); for a category, side-by-side bars of the category shares (missing a category of its
    own; the 8 commonest in the real table, the rest as "other"). Each panel is titled with the
    column name and its shape score (``column_shapes``: 1 = identical), and notes the shares of
    missing cells where there are any."""
    groups = column_groups(kinds)[:max_columns]
    subset = {name: kinds[name] for name, _ in groups}
    shapes = column_shape_details(real, synthetic, subset)
    n = len(groups)
    ncol = max(1, min(n, 4 if n <= 16 else 5))
    nrow = max(1, math.ceil(n / ncol))
    fig = new_figure(2.9 * ncol + 0.3, 2.3 * nrow + 0.8)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.set_visible(False)
            continue
        name, group = groups[index]
        detail = shapes[name]
        notes = []
        if group == "number":
            notes = _number_panel(ax, number_values(real, name), number_values(synthetic, name), kinds[name])
        else:
            _category_panel(ax, category_keys(real, name), category_keys(synthetic, name))
        if group == "number" and (detail["missing_real"] > 0 or detail["missing_synthetic"] > 0):
            notes.insert(
                0, f"missing: {_percent(detail['missing_real'])} real, {_percent(detail['missing_synthetic'])} synth."
            )
        score = detail["score"]
        ax.set_title(f"{_short(name, 26)}  ({'n/a' if np.isnan(score) else f'{score:.2f}'})", fontsize=9)
        ax.set_xlabel("\n".join(notes), fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if index % ncol == 0:
            ax.set_ylabel("share of rows", fontsize=7)
    if not n:
        axes.flat[0].set_visible(True)
        axes.flat[0].set_axis_off()
        axes.flat[0].text(0.5, 0.5, "no columns to compare", ha="center", va="center", color="grey")
    from matplotlib.patches import Patch

    fig.legend(
        handles=[Patch(color=REAL_COLOUR, alpha=0.6, label="real"), Patch(color=SYNTHETIC_COLOUR, label="synthetic")],
        loc="outside upper right",
        ncol=2,
        fontsize=9,
        frameon=False,
    )
    fig.suptitle("real vs synthetic by column (in brackets: shape similarity, 1 = identical)", fontsize=11)
    return fig


def correlation_figure(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> Any:
    """Return a matplotlib Figure with the column-association matrices of ``real`` and
    ``synthetic`` side by side, on one colour scale from -1 to 1: Pearson's r for two numbers,
    Cramér's V for two categories, the correlation ratio eta for a number and a category (see
    ``vaekit.evaluation.table_associations``); grey where undefined (a constant or all-missing
    column). Values are written in the cells when there are at most 12 columns."""
    names, matrix_real = association_matrix(real, kinds)
    _, matrix_synthetic = association_matrix(synthetic, kinds)
    n = len(names)
    labels = [_short(name, 18) for name in names]
    fontsize = max(6.0, min(9.0, 240 / max(n, 1)))
    # Size the figure so that the square panels, not white bands, take the space: a panel of
    # ``panel`` inches plus its tick labels (about 0.6 em per character), twice, and a colour bar.
    panel = min(8.5, max(3.4, 0.16 * n + 2.2))
    label_space = 0.6 * fontsize / 72 * max((len(label) for label in labels), default=1) + 0.25
    fig = new_figure(2 * (panel + label_space) + 1.3, panel + label_space + 1.0)
    axes = fig.subplots(1, 2)
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"].with_extremes(bad="#d9d9d9")
    image = None
    if not n:
        for ax in axes:
            ax.set_axis_off()
        axes[0].text(0.5, 0.5, "no columns to compare", ha="center", va="center", color="grey")
    for ax, matrix, title in ((axes[0], matrix_real, "real"), (axes[1], matrix_synthetic, "synthetic"))[
        : 2 if n else 0
    ]:
        image = ax.imshow(np.ma.masked_invalid(matrix), vmin=-1, vmax=1, cmap=cmap, interpolation="nearest")
        ax.set_xticks(range(n), labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(n), labels, fontsize=fontsize)
        ax.set_title(title, fontsize=11)
        ax.tick_params(length=2)
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    if not np.isnan(matrix[i, j]):
                        colour = "white" if abs(matrix[i, j]) > 0.6 else "black"
                        ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color=colour)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8, pad=0.02, label="association")
    off_diagonal = ~np.eye(n, dtype=bool)
    gaps = np.abs(matrix_real - matrix_synthetic)[off_diagonal]
    gaps = gaps[~np.isnan(gaps)]
    gap = f"; mean |real - synthetic| = {gaps.mean():.3f}" if gaps.size else ""
    fig.suptitle(
        "column associations: Pearson r (number-number), Cramér's V (category-category),\n"
        f"correlation ratio \u03b7 (number-category); grey = undefined{gap}",
        fontsize=10,
    )
    return fig
