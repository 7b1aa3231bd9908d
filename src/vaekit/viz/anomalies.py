"""The most unusual examples of some data: images beside their reconstructions and per-pixel
score maps; table rows with each column's contribution to their score."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import torch

from vaekit.viz.figure import new_figure

#: examples shown unless asked otherwise
DEFAULT_SHOWN = 8


def most_unusual(
    vae: Any, data: Any, *, kind: str = "nll", k: int | None = None, n: int = DEFAULT_SHOWN, seed: int = 0,
    id_column: str | None = None,
) -> Any:
    """Return the :class:`vaekit.scoring.Scores` of the ``n`` highest-scoring examples of
    ``data`` (read in chunks: memory holds one chunk and the ``n`` kept), highest first, with
    their explanation and, for images, the examples as the model saw them. ``id_column`` names a
    table's rows (as ``vaekit score --id-column``), else the schema's id column or positions."""
    from vaekit.scoring import Examples, Scores, concatenate_scores, iter_scores, score_data, score_source

    table = vae.config.table is not None
    source = score_source(vae, data, id_column=id_column)
    kept: list[tuple[float, int, Any]] = []  # a min-heap of (score, order, one-row Scores)
    order = 0
    for part in iter_scores(vae, source, kind=kind, k=k, seed=seed, explain=table, keep_examples=not table):
        for i in np.argsort(-part.scores)[:n]:
            row = _row(part, int(i))
            item = (float(part.scores[i]), order, row)
            order += 1
            if len(kept) < n:
                heapq.heappush(kept, item)
            elif item[0] > kept[0][0]:
                heapq.heapreplace(kept, item)
    rows = [row for _, _, row in sorted(kept, key=lambda item: -item[0])]
    if not rows:
        return Scores(np.zeros(0, dtype=np.int64), np.zeros(0), kind, k)
    top = concatenate_scores(rows, kind, rows[0].k, source)
    if not table:
        # The maps come from a second pass over the kept examples alone (their own draws).
        classes = None if rows[0].classes is None else torch.cat([r.classes for r in rows])  # type: ignore[misc]
        explained = score_data(vae, Examples(torch.cat([r.examples for r in rows]), classes), kind=kind, k=k, seed=seed, explain=True)  # type: ignore[misc]
        top.contributions, top.latent = explained.contributions, explained.latent
        top.examples, top.classes = torch.cat([r.examples for r in rows]), classes  # type: ignore[misc]
    return top


def _row(part: Any, i: int) -> Any:
    from dataclasses import replace

    def pick(values: Any) -> Any:
        # A copy: a slice would keep the whole chunk's memory alive.
        return None if values is None else values[i : i + 1].copy() if isinstance(values, np.ndarray) else values[i : i + 1].clone()

    return replace(
        part, ids=pick(part.ids), scores=pick(part.scores), contributions=pick(part.contributions),
        latent=pick(part.latent), labels=pick(part.labels), examples=pick(part.examples), classes=pick(part.classes),
        units=pick(part.units),
    )  # fmt: skip


def anomaly_figure(vae: Any, top: Any) -> Any:
    """Return a matplotlib figure of the examples in ``top`` (from :func:`most_unusual`):
    for images one column each (the example, its reconstruction, its per-pixel map of the
    score in nats), for tables a heat map of each column's contribution (nats) per row."""
    if vae.config.table is not None:
        return _table_figure(top)
    return _image_figure(vae, top)


def _image_figure(vae: Any, top: Any) -> Any:
    from vaekit.viz.pictures import as_images

    shape = vae.input_shape
    n = len(top.scores)
    x = top.examples.cpu()
    labels = None if top.classes is None else top.classes
    recon = vae.reconstruct(x, labels=labels) if vae.conditional else vae.reconstruct(x)
    originals, rebuilt = as_images(x, shape), as_images(recon, shape)
    maps = top.maps().reshape(n, *shape).sum(axis=1)  # channels summed: one map per pixel
    width = max(4.0, 1.25 * n)
    fig = new_figure(width, 4.4)
    axes = fig.subplots(3, max(n, 1), squeeze=False)
    top_value = float(np.quantile(maps, 0.99)) if maps.size else 1.0
    image = None
    for j in range(n):
        for row, picture in enumerate((originals[j], rebuilt[j])):
            ax = axes[row][j]
            ax.imshow(picture.transpose(1, 2, 0).squeeze(-1) if picture.shape[0] == 1 else picture.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        image = axes[2][j].imshow(maps[j], cmap="magma", vmin=0.0, vmax=max(top_value, 1e-6), interpolation="nearest")
        axes[0][j].set_title(f"{_example_name(top.ids[j])}\n{top.scores[j]:.1f} nats", fontsize=8)
        for row in range(3):
            axes[row][j].set_xticks([])
            axes[row][j].set_yticks([])
    for row, name in enumerate(("example", "reconstruction", "score map")):
        axes[row][0].set_ylabel(name, fontsize=8)
    if image is not None:
        bar = fig.colorbar(image, ax=axes[2].tolist(), shrink=0.8, pad=0.01)
        bar.set_label("nats per pixel", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    # A narrow figure (few examples) takes its title on two lines, which would be cut off on one.
    gap = "\n" if width < 6 else " "
    fig.suptitle(f"The {n} most unusual examples{gap}by the {top.kind} score (higher is more unusual)", fontsize=9)
    return fig


def _example_name(example_id: Any) -> str:
    """Return how a picture names an example: ``#12`` for a position, else its id (a file's
    name, shortened from the left to fit above an image)."""
    if isinstance(example_id, int | np.integer):
        return f"#{example_id}"
    text = str(example_id)
    return text if len(text) <= 16 else "…" + text[-15:]


def colour_limit(values: np.ndarray) -> float:
    """Return the half-width of a heat map's symmetric colour scale: the largest finite
    ``|value|`` (nats), or 1 when there is none, so that an inf cell does not wash out the rest."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _table_figure(top: Any) -> Any:
    """Return the heat map of each column's contribution (nats) to the rows of ``top``: the
    colours scaled by the finite contributions, an infinite one (a category never seen in
    training) hatched and labelled ``inf``."""
    from matplotlib.patches import Patch, Rectangle

    names = list(top.features or [])
    values = np.concatenate([top.contributions, top.latent[:, None]], axis=1) if len(top.scores) else np.zeros((0, len(names) + 1))
    columns = [*names, "(latent)"]
    n = len(top.scores)
    fig = new_figure(max(5.0, 0.55 * len(columns) + 2.5), max(2.5, 0.42 * n + 1.8))
    ax = fig.subplots()
    limit = colour_limit(values)
    infinite = ~np.isfinite(values)
    image = ax.imshow(np.where(infinite, np.nan, values), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(columns)), [c if len(c) <= 16 else c[:15] + "…" for c in columns], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), [f"{_row_name(top.ids[i])}: {top.scores[i]:.1f}" for i in range(n)], fontsize=7)
    ax.set_ylabel(f"row ({top.id_name}): score, nats", fontsize=8)
    for i, j in zip(*np.nonzero(infinite), strict=True):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="black", edgecolor="white", hatch="///", linewidth=0))
        ax.text(j, i, "inf", ha="center", va="center", fontsize=7, color="white", fontweight="bold",
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "black", "linewidth": 0})  # fmt: skip
    if values.size and len(columns) * n <= 400:
        for i, j in zip(*np.nonzero(~infinite), strict=True):
            ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=6)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("contribution to the score, nats", fontsize=7)
    if infinite.any():
        ax.legend(
            handles=[Patch(facecolor="black", edgecolor="white", hatch="///", label="inf: a category never seen in training")],
            loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.02 * max(len(c) for c in columns) / 4), fontsize=7,
            frameon=False,
        )  # fmt: skip
    ax.set_title(
        f"The {n} most unusual rows by the {top.kind} score: which columns made them unusual\n"
        "(contributions in standardised units; the score in the columns' own units on the left)",
        fontsize=9,
    )
    return fig


def _row_name(example_id: Any) -> str:
    """Return how the heat map names a row: its id as the file has it (no numpy repr)."""
    return str(example_id.item() if isinstance(example_id, np.generic) else example_id)
