"""Checks shared by the picture tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_image(data: bytes) -> np.ndarray:
    """Decode PNG bytes (failing if they are not a valid PNG) and return the pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def assert_valid_picture(data: bytes, width: int, height: int) -> None:
    """Assert ``data`` is a PNG of exactly ``width`` x ``height`` pixels that is not blank."""
    pixels = png_image(data)
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 5.0, "picture is blank (one flat colour)"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 8
