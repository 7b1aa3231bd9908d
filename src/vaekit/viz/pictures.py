"""Shared helpers of the picture modules: checks on the model and data they are given."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.errors import ConfigError


def require_images(vae: Any, picture: str) -> tuple[int, int, int]:
    """Return the image shape ``(C, H, W)`` of ``vae``'s data, or raise ``ConfigError`` saying
    that ``picture`` needs images and what works for tables instead."""
    shape = tuple(vae.input_shape)
    if len(shape) != 3:
        raise ConfigError(
            f"the {picture} picture needs image data; this run's data is a table ({vae.config.input_dim} values "
            "per example). For tables use `vaekit plot RUN_DIR latents` or `curves`, and "
            "`vaekit sample`/`reconstruct --out FILE.csv` for the numbers"
        )
    return shape  # type: ignore[return-value]


def as_numpy(x: Any) -> np.ndarray:
    """Return ``x`` (a tensor or array) as a float32 numpy array on the CPU."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def as_images(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return rows ``[N, D]`` (or images) as ``[N, C, H, W]`` float32 in [0, 1]."""
    x = as_numpy(x)
    return np.clip(x.reshape(len(x), *shape), 0.0, 1.0)
