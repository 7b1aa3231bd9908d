"""Image grids (samples, reconstructions) as arrays and PNG files, drawn with Pillow."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Longest row label drawn in full; a longer one (a class folder's name) is cut short with an ellipsis.
MAX_LABEL_CHARS = 20


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
    ``ncol`` originals is followed by the row of their reconstructions: ``[2 * ncol * R, ...]``
    for ``R = ceil(N / ncol)`` rows. A last partial row is filled up with blank tiles (the grid's
    mid-grey padding), so that every reconstruction stays under its original in a grid of ``ncol``."""
    rows = []
    for i in range(0, len(originals), ncol):
        blank = np.full((ncol - len(originals[i : i + ncol]), *originals.shape[1:]), 0.5, dtype=originals.dtype)
        rows += [originals[i : i + ncol], blank, recon[i : i + ncol], blank]
    return np.concatenate(rows)


def reconstruction_row_labels(rows: int) -> list[str]:
    """Return the label of each of ``rows`` rows of a grid from :func:`interleave_rows`, top first:
    ``"original"`` and ``"reconstruction"`` in turn."""
    return ["original" if r % 2 == 0 else "reconstruction" for r in range(rows)]


def label_rows(picture: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Return ``picture`` (a uint8 grid, ``[H, W]`` grey or ``[H, W, 3]`` RGB) with a white margin
    at its left in which ``labels[i]`` is written, right-aligned, level with the i-th of
    ``len(labels)`` equal bands of rows: ``[H, M + W]`` or ``[H, M + W, 3]``, where the margin
    ``M`` fits the longest label. The grid's own pixels are copied unchanged (no resampling)."""
    from PIL import Image, ImageDraw

    if not labels:
        return picture
    texts = [_shorten(str(text)) for text in labels]
    band = picture.shape[0] / len(texts)
    # Small enough that the labels of neighbouring rows never touch; large enough to read.
    size = int(min(15, max(6, 0.6 * band)))
    font, gap = _label_font(size), max(3, size // 2)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    margin = math.ceil(max(probe.textlength(text, font=font) for text in texts)) + 2 * gap
    mode, paper, ink = ("L", 255, 0) if picture.ndim == 2 else ("RGB", (255, 255, 255), (0, 0, 0))
    canvas = Image.new(mode, (margin + picture.shape[1], picture.shape[0]), paper)
    canvas.paste(Image.fromarray(picture), (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(texts):
        draw.text((margin - gap, (i + 0.5) * band), text, fill=ink, font=font, anchor="rm")
    return np.asarray(canvas)


def _shorten(text: str) -> str:
    """Return ``text`` on one line, cut to ``MAX_LABEL_CHARS`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


@functools.cache
def _label_font(size: int) -> Any:
    """Return the font of row labels at ``size`` pixels: DejaVu Sans, the font of vaekit's
    matplotlib plots (matplotlib ships it), else Pillow's own default font."""
    import matplotlib
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")), size)
    except OSError:
        return ImageFont.load_default(size)


def auto_scale(height: int, target: int = 448) -> int:
    """Return an integer upscaling factor so a grid of small images is comfortably visible."""
    return max(1, target // max(height, 1))


def png_bytes(picture: np.ndarray) -> bytes:
    """Encode a uint8 array (``[H, W]`` or ``[H, W, 3]``) as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(
    path: Path,
    images: np.ndarray,
    shape: Sequence[int],
    ncol: int | None = None,
    row_labels: Sequence[str] | None = None,
) -> None:
    """Write flattened ``images`` ``[N, D]`` of one-example ``shape`` (C, H, W) as a PNG grid,
    upscaled by :func:`auto_scale`; ``row_labels`` (one per row of the grid) are written in a
    margin at its left (:func:`label_rows`)."""
    from vaekit.runtime.atomic import atomic_write_bytes

    images = np.asarray(images).reshape(len(images), *shape)
    picture = image_grid(images, ncol=ncol)
    scale = auto_scale(picture.shape[0])
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    if row_labels:
        picture = label_rows(picture, row_labels)
    atomic_write_bytes(Path(path), png_bytes(picture))
