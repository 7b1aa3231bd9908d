"""Examples to and from files for the command line: the example a picture starts from (an index
into a data split, or a file), and arrays of examples or latents written as .png, .npy or .csv."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.runtime.atomic import atomic_write_bytes, atomic_write_text
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.viz.grid import save_grid

#: The file types ``write_examples`` writes.
OUTPUT_SUFFIXES = (".png", ".npy", ".csv")


def pick_example(spec: str | int, x: Any, vae: Any) -> np.ndarray:
    """Return one example ``[D]``: row ``spec`` of ``x`` when ``spec`` is an integer, else the
    file ``spec`` (``.npy``/``.csv`` holding one row of D values, or an image, converted to the
    run's channels and size and scaled to [0, 1])."""
    if isinstance(spec, int) or str(spec).lstrip("-").isdigit():
        index = int(spec)
        if not -len(x) <= index < len(x):
            raise DataError(f"example index {index} is out of range: the split has {len(x)} examples")
        row = x[index]
        return np.asarray(row.cpu().numpy() if hasattr(row, "cpu") else row, dtype=np.float32).reshape(-1)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"{path} does not exist; give an example index (e.g. 0) or a file")
    dim = vae.config.input_dim
    suffix = path.suffix.lower()
    if suffix in (".npy", ".csv"):
        try:
            row = np.load(path, allow_pickle=False) if suffix == ".npy" else np.loadtxt(path, delimiter=",")
        except ValueError as exc:
            raise DataError(f"{path}: not a numeric array ({exc})") from None
        row = np.asarray(row, dtype=np.float32).reshape(-1)
    else:
        from vaekit.data.images import load_pixels

        shape = tuple(vae.input_shape)
        if len(shape) != 3:
            raise DataError(f"{path}: this run's data is a table; give the example as .npy or .csv")
        pixels = load_pixels(path, "L" if shape[0] == 1 else "RGB", (shape[1], shape[2]))
        row = pixels.astype(np.float32).reshape(-1) / 255.0
    if row.size != dim:
        raise DataError(f"{path} holds {row.size} values; this model expects one example of {dim}")
    if not np.isfinite(row).all():
        raise DataError(f"{path} contains NaN or inf")
    return row


def pick_label(spec: str | int, labels: Any, label: int | None, vae: Any) -> int:
    """Return the class label of the example ``spec`` for a conditional model: ``label`` when
    given (needed for an example from a file), else the split's label of row ``spec``."""
    if label is not None:
        return int(label)
    if (isinstance(spec, int) or str(spec).lstrip("-").isdigit()) and labels is not None:
        return int(labels[int(spec)])
    raise DataError(
        f"model {vae.config.model.name!r} is conditional: give the label of the example {spec} with --label N"
    )


def write_examples(path: Path, rows: np.ndarray, shape: Sequence[int] | None = None, ncol: int | None = None) -> None:
    """Write ``rows`` ``[N, D]`` to ``path``: a PNG grid (images only), ``.npy`` (images of
    ``shape`` as ``[N, C, H, W]``, as the Python API gives them; other rows as they are) or
    ``.csv`` (one flat row per example)."""
    path = Path(path)
    rows = np.asarray(rows, dtype=np.float32)
    suffix = path.suffix.lower()
    if suffix == ".png":
        if shape is None or len(shape) != 3:
            raise ConfigError(f"{path}: PNG output needs image data; this run's data is a table, use .npy or .csv")
        save_grid(path, rows, shape, ncol=ncol)
    elif suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, rows.reshape(len(rows), *shape) if shape is not None and len(shape) == 3 else rows)
        atomic_write_bytes(path, buffer.getvalue())
    elif suffix == ".csv":
        buffer_text = io.StringIO()
        np.savetxt(buffer_text, rows.reshape(len(rows), -1), delimiter=",", fmt="%.7g")
        atomic_write_text(path, buffer_text.getvalue())
    else:
        raise ConfigError(f"{path}: unsupported output type {suffix!r}; use one of {', '.join(OUTPUT_SUFFIXES)}")
