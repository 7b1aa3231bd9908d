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


def penguin_rows(n: int = 150, seed: int = 0):
    """Return a penguin-like table (a pandas DataFrame): text categories, a binary column with
    gaps, a number with one decimal and gaps, whole numbers, and a column missing in most rows
    (so the model decodes it as missing)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], size=n, p=[0.5, 0.3, 0.2])
    island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen"], size=n))
    bill = np.round(np.where(species == "Gentoo", 47.0, 39.0) + rng.normal(0, 2.0, n), 1)
    bill[rng.random(n) < 0.05] = np.nan
    sex = rng.choice(["female", "male"], size=n).astype(object)
    sex[rng.random(n) < 0.08] = None
    tag = np.round(rng.normal(10, 1, n), 1)
    tag[rng.random(n) < 0.9] = np.nan
    mass = np.round(np.where(species == "Gentoo", 5000, 3700) + rng.normal(0, 300, n)).astype(int)
    return pd.DataFrame(
        {"species": species, "island": island, "bill_length_mm": bill, "body_mass_g": mass, "sex": sex, "tag": tag}
    )
