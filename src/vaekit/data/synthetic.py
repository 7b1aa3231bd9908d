"""``synthetic5``: a 5-feature table generated from a 2-D latent, for quick, known-answer runs."""

from __future__ import annotations

import numpy as np

from vaekit.data.bundle import DataBundle
from vaekit.data.holdout import split_bundle
from vaekit.data.options import LoadOptions
from vaekit.data.validate import as_features
from vaekit.runtime.errors import DataError

SYNTHETIC5_ROWS = 2000
NOISE_STD = 0.1  # standard deviation of the Gaussian noise added to every feature


def synthetic5_features(u: np.ndarray) -> np.ndarray:
    """Return the noise-free features ``[u1, u2, u1*u2, sin(u1), u2**2 - 1]`` (float64
    ``[N, 5]``) of latent points ``u`` (``[N, 2]``): a known 2-D manifold in 5-D, so a VAE with
    a 2-D latent can in principle recover it exactly."""
    u1, u2 = u[:, 0], u[:, 1]
    return np.stack([u1, u2, u1 * u2, np.sin(u1), u2**2 - 1.0], axis=1)


def synthetic5(n: int = SYNTHETIC5_ROWS, seed: int = 0, test_fraction: float = 0.2) -> DataBundle:
    """Return ``n`` rows of the synthetic 5-feature table, split train/test by
    ``test_fraction``: latent ``u ~ N(0, I_2)`` mapped by ``synthetic5_features`` plus
    N(0, 0.1^2) noise. Kind ``"table"``, value range ``"real"``, no labels; the same ``seed``
    gives the same data and split on every platform."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise DataError(f"synthetic5: n must be an integer of at least 2 rows, got {n!r}")
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((int(n), 2))
    x = synthetic5_features(u) + NOISE_STD * rng.standard_normal((int(n), 5))
    return split_bundle(
        "synthetic5",
        as_features(x, "synthetic5"),
        None,
        shape=(5,),
        kind="table",
        value_range="real",
        levels=None,
        test_fraction=test_fraction,
        seed=seed,
        source="synthetic5",
    )


def read_synthetic5(options: LoadOptions) -> DataBundle:
    """Return ``synthetic5`` with ``options.n`` rows (default 2000), seed and test fraction."""
    n = SYNTHETIC5_ROWS if options.n is None else options.n
    return synthetic5(n=n, seed=options.seed, test_fraction=options.test_fraction)
