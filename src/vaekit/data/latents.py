"""Reading latent codes ``[N, L]`` from a file, for ``vaekit decode``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaekit.runtime.errors import DataError


def read_latents(path: str | Path) -> np.ndarray:
    """Return the latent codes in ``path`` (.npy or .csv, one code per row, file order) as a
    float32 array ``[N, L]``; a missing, non-numeric or wrongly shaped file raises ``DataError``."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".npy":
            z = np.load(p, allow_pickle=False)
        elif p.suffix.lower() == ".csv":
            z = np.loadtxt(p, delimiter=",", ndmin=2)
        else:
            raise DataError(f"{p}: latent codes must be .npy or .csv")
    except FileNotFoundError:
        raise DataError(f"{p} does not exist") from None
    except ValueError as exc:
        raise DataError(f"{p}: not a numeric array ({exc})") from None
    z = np.atleast_2d(z).astype(np.float32)
    if z.ndim != 2:
        raise DataError(f"{p}: expected a 2-D array [N, L], got shape {z.shape}")
    return z
