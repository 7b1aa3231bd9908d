"""The 2-D latent manifold: decoded images on a grid of the prior's quantiles."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import DPI, new_figure, show_grid
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, class_label, num_classes, require_images

#: points per side of each class's grid when a conditional model draws one per class
PER_CLASS_GRID = 8
#: about how many pixels across each class's grid is drawn
PANEL_PX = 220


def quantile_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """Return ``n`` values of the standard normal's quantile function at evenly spaced
    probabilities in [low, high]: equal prior mass between neighbouring rows."""
    if n < 2:
        raise ConfigError(f"the manifold grid needs at least 2 points per side, got {n}")
    normal = NormalDist()
    return np.array([normal.inv_cdf(p) for p in np.linspace(low, high, n)], dtype=np.float32)


def manifold_grid(vae: Any, n: int | None = None, scale: int | None = None, label: int | None = None) -> Any:
    """Return a uint8 picture of ``n`` x ``n`` decoded images for a 2-D latent space: column j
    has z0 = q_j, row i has z1 = q_(n-1-i) (z1 grows upwards), q the prior's quantiles. Images
    are upscaled ``scale`` times (default: to about 480 pixels across); ``n`` defaults to 15.

    A conditional model decodes the grid under class ``label``; without one it returns a
    matplotlib Figure with one such grid per class, each titled with its class (``n``
    defaults to 8 there: ten grids of 15 x 15 are too small to read)."""
    if n is None:
        n = PER_CLASS_GRID if getattr(vae, "conditional", False) and label is None else 15
    shape = require_images(vae, "manifold")
    if vae.latent_dim != 2:
        raise ConfigError(
            f"the manifold picture needs a 2-D latent space; this run has latent_dim {vae.latent_dim}. "
            "Train with --latent 2, or use `vaekit plot RUN_DIR traverse` or `latents`"
        )
    q = quantile_grid(n)
    z0, z1 = np.meshgrid(q, q[::-1])
    codes = np.stack([z0.reshape(-1), z1.reshape(-1)], axis=1)
    if getattr(vae, "conditional", False) and label is None:
        return _per_class_figure(vae, codes, n, shape)
    if scale is None:
        scale = max(1, 480 // (n * (shape[2] + 1)))
    decoded = vae.decode(codes) if label is None else vae.decode(codes, labels=label)
    return image_grid(as_images(decoded, shape), ncol=n, pad=1, scale=scale)


def _per_class_figure(vae: Any, codes: np.ndarray, n: int, shape: tuple[int, int, int]) -> Any:
    """Return a Figure of one manifold grid per class of a conditional model, in class order."""
    classes = num_classes(vae)
    ncol = min(classes, 5)
    nrow = math.ceil(classes / ncol)
    grid_px = n * (shape[2] + 1) + 1
    # Whole screen pixels per image pixel, and panels a little larger than the grid: a grid
    # squeezed or stretched by a fraction turns rows of digits into stripes.
    scale = max(1, round(PANEL_PX / grid_px))
    panel = (grid_px * scale + 40) / DPI
    fig = new_figure(panel * ncol, (panel + 0.25) * nrow + 0.4)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).reshape(-1)
    for k, ax in enumerate(axes):
        if k >= classes:
            ax.set_visible(False)
            continue
        show_grid(ax, image_grid(as_images(vae.decode(codes, labels=k), shape), ncol=n, pad=1, scale=scale))
        ax.set_title(class_label(vae, k), fontsize=9)
    fig.suptitle("decoded 2-D latent manifold per class (prior quantiles, z1 upwards)", fontsize=10)
    return fig
