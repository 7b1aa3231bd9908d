"""Latent traversals: each dimension swept with the others held at one example's mean."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import new_figure, show_grid
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, as_numpy, own_labels, require_images


@torch.no_grad()
def kl_per_dimension(vae: Any, x: Any, seed: int = 0, batch_size: int = 1024, labels: Any = None) -> np.ndarray:
    """Return the average KL(q(z_j|x) || p(z_j)) of each latent dimension j over the rows of
    ``x``, in nats per example, shape ``[L]``. Dimensions near 0 are unused ("collapsed").
    A conditional model needs the examples' ``labels`` (q(z|x, y))."""
    x = torch.as_tensor(as_numpy(x)).reshape(len(x), -1).to(vae.device)
    labels = own_labels(vae, labels)
    y = vae._condition_args(labels, len(x)) if labels is not None else ()
    total = torch.zeros(vae.latent_dim, dtype=torch.float64)
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for start in range(0, len(x), batch_size):
            out = vae.model(x[start : start + batch_size], *(c[start : start + batch_size] for c in y))
            total += out.kl_per_dim.sum(0).double().cpu()
    return (total / len(x)).numpy()


def informative_dimensions(kl: np.ndarray, limit: int | None = None) -> list[int]:
    """Return latent dimension indices by decreasing KL ``kl`` ``[L]`` (ties keep index order),
    at most ``limit`` of them."""
    order = [int(d) for d in np.argsort(-np.asarray(kl), kind="stable")]
    return order[:limit] if limit is not None else order


def traversal_rows(vae: Any, example: Any, dims: list[int], values: np.ndarray, label: Any = None) -> np.ndarray:
    """Return images ``[len(dims) * len(values), C, H, W]``: for each dimension in ``dims`` a row
    decoding the example's posterior mean with that dimension set to each of ``values``. A
    conditional model encodes and decodes under the example's ``label`` (required for it)."""
    shape = require_images(vae, "traverse")
    label = own_labels(vae, label)
    row = as_numpy(example).reshape(1, -1)
    z = as_numpy(vae.encode(row) if label is None else vae.encode(row, labels=label))[0]
    codes = np.repeat(z[None], len(dims) * len(values), axis=0)
    for row, dim in enumerate(dims):
        codes[row * len(values) : (row + 1) * len(values), dim] = values
    return as_images(vae.decode(codes) if label is None else vae.decode(codes, labels=label), shape)


def traversal_figure(
    vae: Any,
    example: Any,
    x: Any,
    steps: int = 9,
    limit: float = 3.0,
    max_dims: int = 10,
    label: Any = None,
    labels: Any = None,
) -> Any:
    """Return a matplotlib Figure: one row per latent dimension (at most ``max_dims``), ordered by
    average KL over ``x`` (most informative first, each row labelled with its KL in nats), each
    dimension swept over ``steps`` values in [-limit, limit] around ``example``'s posterior mean.
    A conditional model needs the example's ``label`` (the whole traversal is decoded under it)
    and the ``labels`` of ``x``."""
    require_images(vae, "traverse")
    if steps < 2 or max_dims < 1:
        raise ConfigError(f"a traversal needs steps >= 2 and at least 1 dimension, got steps {steps}, dims {max_dims}")
    kl = kl_per_dimension(vae, x, labels=labels)
    dims = informative_dimensions(kl, max_dims)
    values = np.linspace(-limit, limit, steps).astype(np.float32)
    grid = image_grid(traversal_rows(vae, example, dims, values, label), ncol=steps, pad=1, scale=4)
    width = 7.0
    height = max(1.6, width * grid.shape[0] / grid.shape[1] * 0.9 + 0.8)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    show_grid(ax, grid)
    cell_h, cell_w = grid.shape[0] / len(dims), grid.shape[1] / steps
    # In a hierarchy z1, z2, ... name the layers (as its other pictures do): these are z1's dimensions.
    layered = len(getattr(vae.model, "widths", ())) > 1
    names = [f"z1[{d}]" if layered else f"z{d}" for d in dims]
    ax.set_yticks([cell_h * (i + 0.5) for i in range(len(dims))], [f"{n} ({kl[d]:.2f})" for n, d in zip(names, dims, strict=True)], fontsize=8)
    ax.set_xticks([cell_w * (i + 0.5) for i in range(steps)], [f"{v:+.1f}" for v in values], fontsize=8)
    ax.tick_params(length=0)
    conditional = label is not None and getattr(vae, "conditional", False) and np.ndim(label) == 0
    under = f", label {int(label)}" if conditional else ""
    ax.set_title(f"latent traversals{under}, rows by KL (nats) per dimension", fontsize=10)
    return fig
