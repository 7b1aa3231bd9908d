"""Reconstructions: originals above their reconstructions through the posterior means."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.viz.grid import image_grid, interleave_rows, label_rows, reconstruction_row_labels, save_grid
from vaekit.viz.pictures import as_images, as_numpy, own_labels, require_images


def reconstruction_grid(
    vae: Any, x: Any, n: int = 32, ncol: int = 8, scale: int = 4, labels: Any = None, row_labels: bool = False
) -> np.ndarray:
    """Return a uint8 picture of the first ``n`` rows of ``x`` (``[N, D]``): each row of ``ncol``
    originals is followed by the row of their reconstructions decode(encode(x)); a last
    partial row is left out. A conditional model encodes and decodes each example under its own
    label (``labels`` ``[N]``, required for it; ignored for unconditional models).

    ``row_labels``: a margin at the picture's left says which rows are ``original`` and which
    ``reconstruction``, as in the PNG files that ``vaekit plot`` and ``vaekit train`` write."""
    shape = require_images(vae, "recon")
    labels = own_labels(vae, labels)
    x = as_numpy(x)[:n]
    ncol = min(ncol, len(x))
    x = x[: len(x) - len(x) % ncol]  # whole rows only, so each original sits above its reconstruction
    originals = as_images(x, shape)
    recon = as_images(vae.reconstruct(x) if labels is None else vae.reconstruct(x, labels=labels[: len(x)]), shape)
    picture = image_grid(interleave_rows(originals, recon, ncol), ncol=ncol, scale=scale)
    return label_rows(picture, reconstruction_row_labels(2 * len(x) // ncol)) if row_labels else picture


def save_reconstruction_grid(
    path: Path, originals: np.ndarray, recon: np.ndarray, shape: Sequence[int], ncol: int = 8
) -> None:
    """Write ``originals`` ``[N, D]`` and their reconstructions ``recon`` ``[N, D]`` as the PNG
    that ``vaekit train`` puts in the run folder: each row of ``ncol`` originals above the row
    of their reconstructions (:func:`~vaekit.viz.grid.interleave_rows`), upscaled, every row
    labelled ``original`` or ``reconstruction`` at the left."""
    pairs = interleave_rows(np.asarray(originals), np.asarray(recon), ncol)
    save_grid(path, pairs, shape, ncol, reconstruction_row_labels(len(pairs) // ncol))
