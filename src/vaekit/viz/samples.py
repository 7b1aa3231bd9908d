"""Samples from the prior, decoded: the first look at a generative model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, num_classes, require_images


def sample_grid(
    vae: Any,
    n: int | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    ncol: int = 8,
    scale: int = 4,
    label: int | None = None,
) -> np.ndarray:
    """Return decoded prior samples (likelihood means) as a uint8 picture ``[H, W]`` (grey) or
    ``[H, W, 3]``; ``temperature`` scales the prior's std and each image is upscaled ``scale``
    times. The global RNG is left as it was.

    Unconditional models, or a conditional one given a class ``label``: ``n`` samples (default
    64) tiled ``ncol`` per row. A conditional model without ``label``: one row per class, in class
    order (row k decoded under label k), of ``n`` samples each (default ``ncol``); every row
    decodes the same ``n`` prior draws, so a column shows one latent code in every class."""
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
    return image_grid(as_images(xs, shape), ncol=ncol, scale=scale)
