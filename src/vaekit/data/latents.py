"""Reading latent codes ``[N, L]`` from a file, for ``vaekit decode``."""

from __future__ import annotations

import warnings
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
            with warnings.catch_warnings():  # an empty file is refused below, in words of its own
                warnings.simplefilter("ignore", UserWarning)
                z = np.loadtxt(p, delimiter=",", ndmin=2)
        else:
            raise DataError(f"{p}: latent codes must be .npy or .csv")
    except FileNotFoundError:
        raise DataError(f"{p} does not exist") from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # numpy's hint to unpickle would be unsafe advice
            raise DataError(f"{p}: not a numeric array (it holds Python objects); save the codes as numbers") from None
        hint = "; drop the header line" if p.suffix.lower() == ".csv" else ""
        raise DataError(f"{p}: not a numeric array ({exc}){hint}") from None
    if z.dtype.kind not in "biuf":
        raise DataError(f"{p}: not a numeric array (its values are {z.dtype}); save the codes as numbers")
    if z.size == 0:
        raise DataError(f"{p}: no latent codes in the file; give at least one row")
    z = np.atleast_2d(z).astype(np.float32)
    if z.ndim != 2:
        raise DataError(f"{p}: expected a 2-D array [N, L], got shape {z.shape}")
    return z
