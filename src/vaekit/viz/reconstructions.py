"""Reconstructions: originals above their reconstructions through the posterior means."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.viz.grid import image_grid, interleave_rows
from vaekit.viz.pictures import as_images, as_numpy, own_labels, require_images


def reconstruction_grid(vae: Any, x: Any, n: int = 32, ncol: int = 8, scale: int = 4, labels: Any = None) -> np.ndarray:
    """Return a uint8 picture of the first ``n`` rows of ``x`` (``[N, D]``): each row of ``ncol``
    originals is followed by the row of their reconstructions decode(encode(x)); a last
    partial row is left out. A conditional model encodes and decodes each example under its own
    label (``labels`` ``[N]``, required for it; ignored for unconditional models)."""
    shape = require_images(vae, "recon")
    labels = own_labels(vae, labels)
    x = as_numpy(x)[:n]
    ncol = min(ncol, len(x))
    x = x[: len(x) - len(x) % ncol]  # whole rows only, so each original sits above its reconstruction
    originals = as_images(x, shape)
    recon = as_images(vae.reconstruct(x) if labels is None else vae.reconstruct(x, labels=labels[: len(x)]), shape)
    return image_grid(interleave_rows(originals, recon, ncol), ncol=ncol, scale=scale)
