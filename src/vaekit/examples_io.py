"""Writing arrays of examples or latents to .png, .npy or .csv, chosen by the file's suffix."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.atomic import atomic_write_bytes, atomic_write_text

SUFFIXES = (".png", ".npy", ".csv")


def write_examples(path: Path, rows: np.ndarray, shape: Sequence[int] | None = None, ncol: int | None = None) -> None:
    """Write ``rows`` ``[N, D]`` to ``path``: a PNG grid (images only), ``.npy`` or ``.csv``."""
    path = Path(path)
    rows = np.asarray(rows, dtype=np.float32)
    suffix = path.suffix.lower()
    if suffix == ".png":
        if shape is None or len(shape) != 3:
            raise ConfigError(f"{path}: PNG output needs image data; this run's data is a table, use .npy or .csv")
        from vaekit.viz.grid import save_grid

        save_grid(path, rows, shape, ncol=ncol)
    elif suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, rows)
        atomic_write_bytes(path, buffer.getvalue())
    elif suffix == ".csv":
        buffer_text = io.StringIO()
        np.savetxt(buffer_text, rows.reshape(len(rows), -1), delimiter=",", fmt="%.7g")
        atomic_write_text(path, buffer_text.getvalue())
    else:
        raise ConfigError(f"{path}: unsupported output type {suffix!r}; use one of {', '.join(SUFFIXES)}")
