"""Shared helpers of the picture modules: checks on the model and data they are given."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError


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


def own_labels(vae: Any, labels: Any) -> Any:
    """Return the labels a picture passes to ``vae``: ``labels`` for a conditional model (which
    must have them), None for an unconditional one (whose calls take none; the labels of its data
    then only colour plots)."""
    if not getattr(vae, "conditional", False):
        return None
    if labels is None:
        raise ConfigError(
            f"model {vae.config.model.name!r} is conditional: this picture needs the examples' labels "
            "(labelled data, or --label N for an example given as a file)"
        )
    return labels


def num_classes(vae: Any) -> int:
    """Return the number of classes (condition width) of a conditional model."""
    return int(vae.model.cond_dim)


def condition_vectors(vae: Any, labels: Any) -> np.ndarray:
    """Return the condition vectors ``[N, C]`` (float32) of a conditional model for ``labels``:
    one-hot vectors for class numbers ``[N]``, the vectors themselves for ``[N, C]``."""
    import torch

    y = labels if torch.is_tensor(labels) else torch.as_tensor(np.asarray(labels))
    if y.ndim == 1 or not y.is_floating_point():
        y = y.long()
    return as_numpy(vae.model.condition(y.cpu()))


def class_label(vae: Any, k: int) -> str:
    """Return how pictures name class ``k`` of ``vae``: its name from the run's ``class_names``
    (a run on class folders), else ``"class k"``."""
    names = getattr(vae.config, "class_names", None)
    return str(names[k]) if names and 0 <= k < len(names) else f"class {k}"
