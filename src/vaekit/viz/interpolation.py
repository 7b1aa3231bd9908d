"""Interpolations in latent space between two examples: linear and spherical (slerp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import new_figure, show_grid
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, as_numpy, condition_vectors, own_labels, require_images

METHODS = ("linear", "spherical")


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return points ``(1 - t) a + t b`` for each ``t``: ``[T, L]``."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return ((1 - t) * a[None] + t * b[None]).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return spherical interpolation from ``a`` to ``b`` at each ``t``, ``[T, L]``: along the
    great circle, with the norm interpolated linearly, so that midpoints keep the typical norm of
    Gaussian codes instead of shrinking towards 0 as linear midpoints do. Falls back to linear
    interpolation when the two codes point the same way (or one is 0)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na < 1e-8 or nb < 1e-8:
        return lerp(a64, b64, t[:, 0])
    cos = np.clip(a64 @ b64 / (na * nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-4:
        return lerp(a64, b64, t[:, 0])
    ua, ub = a64 / na, b64 / nb
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    norm = (1 - t) * na + t * nb
    return (direction * norm).astype(np.float32)


def interpolation_rows(
    vae: Any, a: Any, b: Any, steps: int = 10, methods: tuple[str, ...] = METHODS, labels: Any = None
) -> np.ndarray:
    """Return images ``[len(methods) * (steps + 2), C, H, W]``: for each method a row of the
    original ``a``, ``steps`` decoded points from z_a to z_b (ends included), and the original ``b``.

    A conditional model needs ``labels`` = (label of ``a``, label of ``b``): each example is
    encoded under its own label, and step t (0 to 1) is decoded under the condition vector
    (1 - t) onehot(label_a) + t onehot(label_b), the model's soft mixture of the two classes
    (a cvae takes its condition as a vector), so the row moves in z and class together and both
    ends are the examples' reconstructions."""
    shape = require_images(vae, "interp")
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown interpolation method(s) {unknown}; choose from {list(METHODS)}")
    x = np.stack([as_numpy(a).reshape(-1), as_numpy(b).reshape(-1)])
    labels = own_labels(vae, labels)
    t = np.linspace(0.0, 1.0, steps)
    if labels is None:
        za, zb = as_numpy(vae.encode(x))
        conditions = None
    else:
        ends = condition_vectors(vae, labels)
        if len(ends) != 2:
            raise ConfigError(f"interpolation needs the labels of its two examples, got {len(ends)}")
        za, zb = as_numpy(vae.encode(x, labels=ends))
        conditions = lerp(ends[0], ends[1], t)
    originals = as_images(x, shape)
    rows = []
    for method in methods:
        codes = lerp(za, zb, t) if method == "linear" else slerp(za, zb, t)
        decoded = vae.decode(codes) if conditions is None else vae.decode(codes, labels=conditions)
        rows += [originals[:1], as_images(decoded, shape), originals[1:]]
    return np.concatenate(rows)


def interpolation_figure(
    vae: Any, a: Any, b: Any, steps: int = 10, methods: tuple[str, ...] = METHODS, labels: Any = None
) -> Any:
    """Return a matplotlib Figure: one labelled row per method, from example ``a`` (left,
    original) through ``steps`` decoded latent points to example ``b`` (right, original).
    Conditional models need ``labels`` = (label of ``a``, label of ``b``); see ``interpolation_rows``."""
    images = interpolation_rows(vae, a, b, steps, methods, labels)
    grid = image_grid(images, ncol=steps + 2, pad=1, scale=4)
    width = 8.0
    # The row labels take about 0.9 inch of the width; the title about 0.5 inch of the height.
    height = max(1.6, (width - 0.9) * grid.shape[0] / grid.shape[1] + 0.5)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    show_grid(ax, grid)
    cell = grid.shape[0] / len(methods)
    ax.set_yticks([cell * (i + 0.5) for i in range(len(methods))], list(methods))
    ax.tick_params(axis="y", length=0)
    title = f"latent interpolation: original, {steps} steps, original"
    if labels is not None and getattr(vae, "conditional", False) and np.ndim(labels) == 1:
        title += f" (label {int(labels[0])} to {int(labels[1])})"
    ax.set_title(title, fontsize=10)
    return fig


def default_pair(labels: Any, n: int) -> tuple[int, int]:
    """Return two example indices to interpolate between: the first example and the first one
    with a different label (or simply the second example when there are no labels)."""
    if n < 2:
        raise ConfigError("interpolation needs at least two examples")
    if labels is not None:
        labels = as_numpy(labels).reshape(-1)
        different = np.flatnonzero(labels != labels[0])
        if len(different):
            return 0, int(different[0])
    return 0, 1
