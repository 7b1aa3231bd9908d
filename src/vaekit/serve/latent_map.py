"""The explorer's 2-D map of the latent space, and the way back from a map point to a latent code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LatentMap:
    """A linear map between latent codes ``[N, L]`` and 2-D map points ``[N, 2]``.

    ``to_map(z) = (z - center) @ axes.T`` and ``to_latent(p) = center + p @ axes``: with
    orthonormal ``axes`` (PCA components, or unit vectors) ``to_latent`` inverts ``to_map`` on the
    plane the map shows, so a clicked point decodes to the code it stands for. ``method`` is
    ``"identity"`` (latent_dim <= 2: the map is the latent space itself), ``"pca"``, or
    ``"first-two"`` (no data to fit PCA on: the first two latent dimensions, others at 0).
    """

    method: str
    center: np.ndarray  # [L]
    axes: np.ndarray  # [2, L]; a zero row when latent_dim == 1
    explained_variance_ratio: list[float] | None = None

    def to_map(self, z: np.ndarray) -> np.ndarray:
        """Return the map points ``[N, 2]`` of latent codes ``z`` ``[N, L]``."""
        return (np.asarray(z, dtype=np.float64) - self.center) @ self.axes.T

    def to_latent(self, points: np.ndarray) -> np.ndarray:
        """Return the latent codes ``[N, L]`` that map points ``[N, 2]`` stand for."""
        return self.center + np.asarray(points, dtype=np.float64) @ self.axes


def axis_map(latent_dim: int, method: str) -> LatentMap:
    """Return the map that shows latent dimensions 0 and 1 directly (dimension 1 absent when L = 1)."""
    axes = np.zeros((2, latent_dim))
    axes[0, 0] = 1.0
    if latent_dim > 1:
        axes[1, 1] = 1.0
    return LatentMap(method, np.zeros(latent_dim), axes)


def fit_latent_map(means: np.ndarray | None, latent_dim: int) -> LatentMap:
    """Return the map for a model with ``latent_dim`` dimensions, fitted to posterior means ``[N, L]``.

    L <= 2: the identity. L > 2: PCA of ``means`` (scikit-learn), or the first two dimensions
    when there are fewer than two means to fit it on.
    """
    if latent_dim <= 2:
        return axis_map(latent_dim, "identity")
    if means is None or len(means) < 2:
        return axis_map(latent_dim, "first-two")
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, svd_solver="full").fit(np.asarray(means, dtype=np.float64))
    return LatentMap(
        "pca",
        pca.mean_.copy(),
        pca.components_.copy(),
        [float(r) for r in pca.explained_variance_ratio_],
    )
