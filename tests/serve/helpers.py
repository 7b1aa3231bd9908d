"""Helpers of the explorer's tests: a client over an app, and images as upload bodies."""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np


def make_client(run_dir, **limits):
    """Return a TestClient over the explorer app of ``run_dir`` with the given limits."""
    from fastapi.testclient import TestClient

    from vaekit.serve import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about its httpx-based TestClient
        return TestClient(create_app(run_dir, **limits))


def png_base64(pixels: np.ndarray, mode: str = "L", fmt: str = "PNG") -> str:
    """Return ``pixels`` (uint8 ``[H, W]`` or ``[H, W, C]``) as a base64 image file."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def png_size(b64: str) -> tuple[int, int]:
    """Return (width, height) of a base64 PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        assert im.format == "PNG"
        return im.size
