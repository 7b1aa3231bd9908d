"""The quality report's pictures of a synthetic table: one panel per column, two association
matrices on one colour scale, readable for 8 and for 45 columns, and drawn for odd tables too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaekit.viz import picture_png
from vaekit.viz.figure import DPI
from vaekit.viz.table_pictures import column_comparison_figure, correlation_figure

from .helpers import assert_valid_picture

KINDS = {
    "species": "categorical",
    "island": "categorical",
    "bill": "continuous",
    "depth": "continuous",
    "flipper": "integer",
    "mass": "count",
    "sex": "binary",
    "income": "continuous",
}


def penguin_like(n: int, seed: int) -> pd.DataFrame:
    """Text categories, numbers that go with them, a heavy tail, and missing cells."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], size=n)
    size = np.where(species == "Gentoo", 1.0, 0.0) + rng.normal(size=n) * 0.5
    table = pd.DataFrame(
        {
            "species": species,
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], size=n),
            "bill": 40 + 5 * size + rng.normal(size=n),
            "depth": 17 - size + rng.normal(size=n) * 0.5,
            "flipper": np.round(200 + 15 * size).astype(int),
            "mass": np.round(4000 + 600 * size).astype(int),
            "sex": rng.choice(["male", "female"], size=n).astype(object),
            "income": np.where(rng.random(n) < 0.3, 0.0, np.exp(rng.normal(8, 1.5, size=n))),
        }
    )
    table.loc[0, "income"] = 1e8  # one far outlier: the histogram folds it into its last bin
    table.loc[rng.random(n) < 0.05, "sex"] = None
    table.loc[rng.random(n) < 0.02, "bill"] = np.nan
    return table


def size_of(fig) -> tuple[int, int]:
    w, h = fig.get_size_inches()
    return round(w * DPI), round(h * DPI)


def visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_column_comparison_has_one_titled_panel_per_column():
    real, synthetic = penguin_like(300, 0), penguin_like(300, 1)
    fig = column_comparison_figure(real, synthetic, KINDS)
    axes = visible_axes(fig)
    assert len(axes) == 8
    titles = [ax.get_title() for ax in axes]
    assert [t.split()[0] for t in titles] == list(KINDS)
    assert all("(0." in t or "(1.00)" in t for t in titles)  # each carries its shape score
    assert [tick.get_text() for tick in axes[0].get_xticklabels()][:1] != [""]  # category labels on the x axis
    assert "missing" in axes[2].get_xlabel()  # bill has missing cells
    assert "tails folded" in axes[7].get_xlabel()  # income's heavy tail
    assert_valid_picture(picture_png(fig), *size_of(fig))
    assert len(visible_axes(column_comparison_figure(real, synthetic, KINDS, max_columns=3))) == 3


def test_many_columns_are_laid_out_in_rows_of_five():
    rng = np.random.default_rng(2)
    real = pd.DataFrame({f"column_{i}": rng.normal(size=80) for i in range(45)})
    kinds = dict.fromkeys(real.columns, "continuous")
    fig = column_comparison_figure(real, real + 0.1, kinds)
    axes = visible_axes(fig)
    assert len(axes) == 45
    width, height = size_of(fig)
    assert width < 1600 and height / 9 > 200  # 5 across, 9 rows of at least 200 pixels


def test_correlation_figure_shows_both_tables_on_one_scale():
    real, synthetic = penguin_like(300, 0), penguin_like(300, 1)
    fig = correlation_figure(real, synthetic, KINDS)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["real", "synthetic"]
    assert all(ax.images[0].get_clim() == (-1, 1) for ax in panels)
    for ax in panels:
        assert [t.get_text() for t in ax.get_yticklabels()] == list(KINDS)
        assert [t.get_text() for t in ax.get_xticklabels()] == list(KINDS)
    assert "Cramér's V" in fig._suptitle.get_text()
    image = panels[0].images[0].get_array()
    assert image[0, 0] == 1.0 and abs(image[2, 3]) > 0.3  # bill and depth go together
    assert_valid_picture(picture_png(fig), *size_of(fig))


def test_correlation_figure_fits_45_columns():
    rng = np.random.default_rng(3)
    real = pd.DataFrame({f"c{i}": rng.normal(size=60) for i in range(45)})
    fig = correlation_figure(real, real, dict.fromkeys(real.columns, "continuous"))
    width, height = size_of(fig)
    assert 1500 <= width <= 2200 and 800 <= height <= 1200
    assert all(t.get_fontsize() >= 6 for t in fig.axes[0].get_xticklabels())


@pytest.mark.parametrize("what", ["all missing", "constant and one category", "ten rows", "no columns"])
def test_odd_tables_still_draw(what):
    real = penguin_like(40, 4)
    # The columns the odd cases touch (fewer panels: drawing is most of a picture test's time).
    kinds = {name: KINDS[name] for name in ("species", "island", "bill", "depth", "mass")}
    synthetic = real.copy()
    if what == "all missing":
        synthetic = synthetic.assign(bill=np.nan, species=None)
    elif what == "constant and one category":
        real = real.assign(depth=1.0, mass=3, island="Dream")
        synthetic = synthetic.assign(depth=1.0, mass=3, island="Dream")
    elif what == "ten rows":
        real, synthetic = real.iloc[:10], penguin_like(10, 5)
    else:
        kinds = dict.fromkeys(kinds, "ignore")
    for fig in (column_comparison_figure(real, synthetic, kinds), correlation_figure(real, synthetic, kinds)):
        assert picture_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
