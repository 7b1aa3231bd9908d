"""The 2-D latent manifold: decoded images on a grid of the prior's quantiles."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from vaekit.errors import ConfigError
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, require_images


def quantile_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """Return ``n`` values of the standard normal's quantile function at evenly spaced
    probabilities in [low, high]: equal prior mass between neighbouring rows."""
    if n < 2:
        raise ConfigError(f"the manifold grid needs at least 2 points per side, got {n}")
    normal = NormalDist()
    return np.array([normal.inv_cdf(p) for p in np.linspace(low, high, n)], dtype=np.float32)


def manifold_grid(vae: Any, n: int = 15, scale: int | None = None) -> np.ndarray:
    """Return a uint8 picture of ``n`` x ``n`` decoded images for a 2-D latent space: column j
    has z0 = q_j, row i has z1 = q_(n-1-i) (z1 grows upwards), q the prior's quantiles. Images
    are upscaled ``scale`` times (default: to about 480 pixels across)."""
    shape = require_images(vae, "manifold")
    if vae.latent_dim != 2:
        raise ConfigError(
            f"the manifold picture needs a 2-D latent space; this run has latent_dim {vae.latent_dim}. "
            "Train with --latent 2, or use `vaekit plot RUN_DIR traverse` or `latents`"
        )
    q = quantile_grid(n)
    z0, z1 = np.meshgrid(q, q[::-1])
    codes = np.stack([z0.reshape(-1), z1.reshape(-1)], axis=1)
    if scale is None:
        scale = max(1, 480 // (n * (shape[2] + 1)))
    return image_grid(as_images(vae.decode(codes), shape), ncol=n, pad=1, scale=scale)
