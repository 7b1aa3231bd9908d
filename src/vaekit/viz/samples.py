"""Samples from the prior, decoded: the first look at a generative model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import new_figure, show_grid
from vaekit.viz.grid import image_grid, label_rows
from vaekit.viz.pictures import as_images, class_label, num_classes, require_images


def sample_grid(
    vae: Any,
    n: int | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    ncol: int = 8,
    scale: int = 4,
    label: int | None = None,
    row_labels: bool = False,
) -> np.ndarray:
    """Return decoded prior samples (likelihood means) as a uint8 picture ``[H, W]`` (grey) or
    ``[H, W, 3]``; ``temperature`` scales the prior's std and each image is upscaled ``scale``
    times. The global RNG is left as it was.

    Unconditional models, or a conditional one given a class ``label``: ``n`` samples (default
    64) tiled ``ncol`` per row. A conditional model without ``label``: one row per class, in class
    order (row k decoded under label k), of ``n`` samples each (default ``ncol``); every row
    decodes the same ``n`` prior draws, so a column shows one latent code in every class.

    ``row_labels``: a conditional model's picture gets a margin at its left naming the class of
    each row (:func:`sample_row_labels`), as ``vaekit plot`` and ``vaekit train`` write it; the
    samples of an unconditional model are all alike and stay unlabelled."""
    images, ncol = sample_images(vae, n, temperature, seed, ncol, label)
    picture = image_grid(images, ncol=ncol, scale=scale)
    names = sample_row_labels(vae, -(-len(images) // ncol), label) if row_labels else None
    return label_rows(picture, names) if names else picture


def sample_images(
    vae: Any, n: int | None = None, temperature: float = 1.0, seed: int = 0, ncol: int = 8, label: int | None = None
) -> tuple[np.ndarray, int]:
    """Return the images of :func:`sample_grid` (``[N, C, H, W]``, float32 in [0, 1], row after
    row) and the number of them per row."""
    shape = require_images(vae, "samples")
    devices = [vae.device] if vae.device.type == "cuda" else []
    per_class = getattr(vae, "conditional", False) and label is None
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if not per_class:
            n = n or 64
            xs = vae.sample(n, temperature=temperature) if label is None else vae.sample(n, temperature, labels=label)
        else:
            n = n or ncol
            ncol = n
            z = vae.model.prior.sample(n, device=vae.device, temperature=temperature)
            xs = torch.cat([vae.decode(z, labels=k) for k in range(num_classes(vae))])
    return as_images(xs, shape), ncol


def sample_row_labels(vae: Any, rows: int, label: int | None = None) -> list[str] | None:
    """Return the class of each of the ``rows`` rows of :func:`sample_grid`'s picture, top row
    first (class names where the run has them, see :func:`~vaekit.viz.pictures.class_label`), or
    None for an unconditional model, whose rows are all alike."""
    if not getattr(vae, "conditional", False):
        return None
    return [class_label(vae, k if label is None else int(label)) for k in range(rows)]


def layer_sample_grid(
    vae: Any, n: int | None = None, temperature: float = 1.0, seed: int = 0, scale: int = 4
) -> np.ndarray:
    """Return a hierarchical model's samples layer by layer as a uint8 picture: ``n`` columns
    (default 8), each one draw of the top layer z_L ~ N(0, I) (std scaled by ``temperature``);
    row 1 decodes it through the means of every layer below, each next row samples one more
    layer from its conditional prior (from the top down), and the last row samples them all:
    what each layer adds. The global RNG is left as it was; a model with one latent layer is
    refused (``ConfigError``)."""
    shape = require_images(vae, "layers")
    prior = vae.model.prior
    if not hasattr(prior, "sample_layers"):
        raise ConfigError(
            f"the layers picture is for models with several stochastic layers (hvae, lvae); model "
            f"{vae.config.model.name!r} has one: use samples"
        )
    n = 8 if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the layers picture needs a whole number of columns >= 1, got {n!r}")
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        top = prior.top.sample(n, device=vae.device, temperature=temperature)
        rows = [
            prior.sample_layers(n, vae.device, temperature, means_below=below, top=top)[0]
            for below in range(len(prior.widths) - 1, -1, -1)
        ]
        xs = torch.cat([vae.decode(z) for z in rows])
    return image_grid(as_images(xs, shape), ncol=n, scale=scale)


def layer_row_labels(layers: int) -> list[str]:
    """Return what each row of :func:`layer_sample_grid` samples, top row first, for a model
    with ``layers`` stochastic layers (z1 nearest the data, z``layers`` at the top)."""
    labels = []
    for below in range(layers - 1, -1, -1):
        if below == 0:
            labels.append(f"all layers drawn\n(z{layers}..z1)")
            continue
        drawn = f"z{layers}" if below == layers - 1 else f"z{layers}..z{below + 1}"
        labels.append(f"{drawn} drawn,\n" + (f"z{below}..z1 means" if below > 1 else "z1 mean"))
    return labels


def layer_sample_figure(
    vae: Any, n: int | None = None, temperature: float = 1.0, seed: int = 0, scale: int = 4
) -> Any:
    """Return :func:`layer_sample_grid` as a matplotlib Figure with each row labelled by the
    layers it draws and the layers it decodes through their means (see
    :func:`layer_row_labels`), and a title saying that a column is one draw of the top layer."""
    picture = layer_sample_grid(vae, n, temperature, seed, scale)
    labels = layer_row_labels(len(vae.model.prior.widths))
    height, width = picture.shape[:2]
    fig = new_figure(2.2 + width / 100, 0.7 + height / 100)
    ax = fig.add_subplot()
    show_grid(ax, picture)
    row = height / len(labels)
    ax.set_yticks([row * (i + 0.5) for i in range(len(labels))], labels, fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.set_title(f"each column: one draw of the top layer z{len(labels)} (temperature {temperature:g})", fontsize=9)
    return fig
