"""Samples from the prior, decoded: the first look at a generative model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, require_images


def sample_grid(
    vae: Any, n: int = 64, temperature: float = 1.0, seed: int = 0, ncol: int = 8, scale: int = 4
) -> np.ndarray:
    """Return ``n`` decoded prior samples (likelihood means) tiled ``ncol`` per row, as a uint8
    picture ``[H, W]`` (grey) or ``[H, W, 3]``; ``temperature`` scales the prior's std and each
    image is upscaled ``scale`` times. The global RNG is left as it was."""
    shape = require_images(vae, "samples")
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        xs = vae.sample(n, temperature=temperature)
    return image_grid(as_images(xs, shape), ncol=ncol, scale=scale)
