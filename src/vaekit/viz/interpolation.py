"""Interpolations in latent space between two examples: linear and spherical (slerp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import new_figure, show_grid
from vaekit.viz.grid import image_grid
from vaekit.viz.pictures import as_images, as_numpy, class_label, condition_vectors, own_labels, require_images

METHODS = ("linear", "spherical")


def _codes_and_steps(a: Any, b: Any, t: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Return ``a`` and ``b`` as float64 arrays of one shape, ``t`` as a 1-D float64 array, and
    whether ``t`` was a single number; refuse mismatched codes and ``t`` outside [0, 1]."""
    a64, b64 = (_float64(v) for v in (a, b))
    if a64.shape != b64.shape:
        raise ConfigError(f"the two codes must have the same shape, got {a64.shape} and {b64.shape}")
    steps = _float64(t)
    if steps.ndim > 1:
        raise ConfigError(f"t must be a number or a 1-D sequence of numbers, got shape {steps.shape}")
    if not np.all(np.isfinite(steps)) or np.any((steps < 0) | (steps > 1)):
        raise ConfigError(
            f"t must lie in [0, 1] (0 gives a, 1 gives b), got {t!r}; for n evenly spaced points "
            "from a to b pass np.linspace(0, 1, n)"
        )
    return a64, b64, steps.reshape(-1), steps.ndim == 0


def _float64(x: Any) -> np.ndarray:
    """Return ``x`` (a number, list, array or tensor) as a float64 numpy array on the CPU."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def lerp(a: Any, b: Any, t: Any) -> np.ndarray:
    """Return the points ``(1 - t) a + t b`` on the line from code ``a`` to code ``b``.

    ``a`` and ``b`` are codes of one shape (``[L]``: numpy arrays, tensors or lists); ``t`` is a
    number in [0, 1] (the result has the codes' shape) or a sequence of ``T`` of them (the result
    is ``[T, L]``). float32, e.g. ``lerp(z[0], z[1], 0.5)`` or ``lerp(z[0], z[1], np.linspace(0, 1, 8))``."""
    a64, b64, steps, single = _codes_and_steps(a, b, t)
    points = _lerp(a64, b64, steps)
    return points[0] if single else points


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = t.reshape(-1, *([1] * a.ndim))
    return ((1 - t) * a[None] + t * b[None]).astype(np.float32)


def slerp(a: Any, b: Any, t: Any) -> np.ndarray:
    """Return spherical interpolation from code ``a`` to code ``b`` (``[L]`` each: arrays,
    tensors or lists) at ``t``: a number in [0, 1] gives one code ``[L]``, a sequence of ``T``
    numbers gives ``[T, L]`` (float32). Along the great circle, with the norm interpolated
    linearly, so that midpoints keep the typical norm of Gaussian codes instead of shrinking
    towards 0 as linear midpoints do. Falls back to linear interpolation when the two codes
    point the same way (or one is 0)."""
    a64, b64, steps, single = _codes_and_steps(a, b, t)
    if a64.ndim != 1:
        raise ConfigError(f"slerp interpolates two codes of shape [L], got shape {a64.shape}")
    points = _slerp(a64, b64, steps)
    return points[0] if single else points


def _slerp(a64: np.ndarray, b64: np.ndarray, steps: np.ndarray) -> np.ndarray:
    t = steps[:, None]
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na < 1e-8 or nb < 1e-8:
        return _lerp(a64, b64, steps)
    cos = np.clip(a64 @ b64 / (na * nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-4:
        return _lerp(a64, b64, steps)
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
    vae: Any,
    a: Any,
    b: Any,
    steps: int = 10,
    methods: tuple[str, ...] = METHODS,
    labels: Any = None,
    names: tuple[str, str] = ("example A", "example B"),
) -> Any:
    """Return a matplotlib Figure: one labelled row per method, from example ``a`` (left,
    original) through ``steps`` decoded latent points to example ``b`` (right, original), titled
    with the two examples' ``names`` (see :func:`interpolation_title`).
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
    classes = None
    if labels is not None and getattr(vae, "conditional", False) and np.ndim(labels) == 1:
        classes = (class_label(vae, int(labels[0])), class_label(vae, int(labels[1])))
    ax.set_title(interpolation_title(steps, names, classes), fontsize=10)
    return fig


def interpolation_title(steps: int, names: tuple[str, str], classes: tuple[str, str] | None = None) -> str:
    """Return the title of an interpolation picture, e.g. ``"example A → 10 decoded steps →
    example B"``, with ``" (class 3 → class 7)"`` after it when the two ends are decoded under
    the ``classes`` of a conditional model."""
    title = f"{names[0]} → {steps} decoded steps → {names[1]}"
    return title if classes is None else f"{title} ({classes[0]} → {classes[1]})"


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
