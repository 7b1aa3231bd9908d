"""Latent traversals: each dimension swept with the others held at one example's mean."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.errors import ConfigError
from vaekit.viz.figure import new_figure, show_grid
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, as_numpy, require_images


@torch.no_grad()
def kl_per_dimension(vae: Any, x: Any, seed: int = 0, batch_size: int = 1024) -> np.ndarray:
    """Return the average KL(q(z_j|x) || p(z_j)) of each latent dimension j over the rows of
    ``x``, in nats per example, shape ``[L]``. Dimensions near 0 are unused ("collapsed")."""
    x = torch.as_tensor(as_numpy(x)).reshape(len(x), -1).to(vae.device)
    total = torch.zeros(vae.latent_dim, dtype=torch.float64)
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for start in range(0, len(x), batch_size):
            out = vae.model(x[start : start + batch_size])
            total += out.kl_per_dim.sum(0).double().cpu()
    return (total / len(x)).numpy()


def informative_dimensions(kl: np.ndarray, limit: int | None = None) -> list[int]:
    """Return latent dimension indices by decreasing KL ``kl`` ``[L]`` (ties keep index order),
    at most ``limit`` of them."""
    order = [int(d) for d in np.argsort(-np.asarray(kl), kind="stable")]
    return order[:limit] if limit is not None else order


def traversal_rows(vae: Any, example: Any, dims: list[int], values: np.ndarray) -> np.ndarray:
    """Return images ``[len(dims) * len(values), C, H, W]``: for each dimension in ``dims`` a row
    decoding the example's posterior mean with that dimension set to each of ``values``."""
    shape = require_images(vae, "traverse")
    z = as_numpy(vae.encode(as_numpy(example).reshape(1, -1)))[0]
    codes = np.repeat(z[None], len(dims) * len(values), axis=0)
    for row, dim in enumerate(dims):
        codes[row * len(values) : (row + 1) * len(values), dim] = values
    return as_images(vae.decode(codes), shape)


def traversal_figure(
    vae: Any,
    example: Any,
    x: Any,
    steps: int = 9,
    limit: float = 3.0,
    max_dims: int = 10,
) -> Any:
    """Return a matplotlib Figure: one row per latent dimension (at most ``max_dims``), ordered by
    average KL over ``x`` (most informative first, each row labelled with its KL in nats), each
    dimension swept over ``steps`` values in [-limit, limit] around ``example``'s posterior mean."""
    require_images(vae, "traverse")
    if steps < 2 or max_dims < 1:
        raise ConfigError(f"a traversal needs steps >= 2 and at least 1 dimension, got steps {steps}, dims {max_dims}")
    kl = kl_per_dimension(vae, x)
    dims = informative_dimensions(kl, max_dims)
    values = np.linspace(-limit, limit, steps).astype(np.float32)
    grid = image_grid(traversal_rows(vae, example, dims, values), ncol=steps, pad=1, scale=4)
    width = 7.0
    height = max(1.6, width * grid.shape[0] / grid.shape[1] * 0.9 + 0.8)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    show_grid(ax, grid)
    cell_h, cell_w = grid.shape[0] / len(dims), grid.shape[1] / steps
    ax.set_yticks([cell_h * (i + 0.5) for i in range(len(dims))], [f"z{d} ({kl[d]:.2f})" for d in dims], fontsize=8)
    ax.set_xticks([cell_w * (i + 0.5) for i in range(steps)], [f"{v:+.1f}" for v in values], fontsize=8)
    ax.tick_params(length=0)
    ax.set_title("latent traversals, rows by KL (nats) per dimension", fontsize=10)
    return fig
