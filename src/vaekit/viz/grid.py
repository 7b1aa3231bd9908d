"""Image grids (samples, reconstructions) as arrays and PNG files, drawn with Pillow."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def image_grid(images: np.ndarray, ncol: int | None = None, pad: int = 1, scale: int = 1) -> np.ndarray:
    """Tile ``images`` ``[N, C, H, W]`` with values in [0, 1] into one uint8 picture.

    Returns ``[rows*(H+pad)+pad, ncol*(W+pad)+pad]`` for one channel, or ``[..., 3]`` for RGB.
    Padding is mid-grey so that black and white digits both stand out from it.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images [N, C, H, W], got shape {images.shape}")
    n, c, h, w = images.shape
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    canvas = np.full((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), 0.5, dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, y : y + h, x : x + w] = images[i]
    out = (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=1).repeat(scale, axis=2)
    return out[0] if c == 1 else np.moveaxis(out, 0, -1)


def interleave_rows(originals: np.ndarray, recon: np.ndarray, ncol: int = 8) -> np.ndarray:
    """Return ``originals`` and ``recon`` (same shape, ``[N, ...]``) stacked so that each row of
    ``ncol`` originals is followed by the row of their reconstructions: ``[2N, ...]``."""
    rows = [np.concatenate([originals[i : i + ncol], recon[i : i + ncol]]) for i in range(0, len(originals), ncol)]
    return np.concatenate(rows)


def auto_scale(height: int, target: int = 448) -> int:
    """Return an integer upscaling factor so a grid of small images is comfortably visible."""
    return max(1, target // max(height, 1))


def png_bytes(picture: np.ndarray) -> bytes:
    """Encode a uint8 array (``[H, W]`` or ``[H, W, 3]``) as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(path: Path, images: np.ndarray, shape: Sequence[int], ncol: int | None = None) -> None:
    """Write flattened ``images`` ``[N, D]`` of one-example ``shape`` (C, H, W) as a PNG grid."""
    from vaekit.runtime.atomic import atomic_write_bytes

    images = np.asarray(images).reshape(len(images), *shape)
    picture = image_grid(images, ncol=ncol)
    scale = auto_scale(picture.shape[0])
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    atomic_write_bytes(Path(path), png_bytes(picture))
