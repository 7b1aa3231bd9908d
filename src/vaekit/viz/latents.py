"""The latent space in 2-D: posterior means of a data set, coloured by label."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import new_figure
from vaekit.viz.pictures import as_numpy, own_labels

METHODS = ("pca", "tsne")


def embed_2d(z: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Return 2-D coordinates ``[N, 2]`` of codes ``z`` ``[N, L]`` and the two axis names: the
    codes themselves when L <= 2 (L = 1 is drawn against 0), else PCA or t-SNE (``method``)."""
    z = np.asarray(z, dtype=np.float64)
    if method not in METHODS:
        raise ConfigError(f"unknown projection {method!r}; choose one of {list(METHODS)}")
    if z.shape[1] == 1:
        return np.concatenate([z, np.zeros_like(z)], axis=1), ["z0", ""]
    if z.shape[1] == 2:
        return z, ["z0", "z1"]
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(z)
        share = pca.explained_variance_ratio_
        return pca.transform(z), [f"PC1 ({share[0]:.0%} of variance)", f"PC2 ({share[1]:.0%})"]
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(z) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z), [
        "t-SNE 1",
        "t-SNE 2",
    ]


def latent_scatter(vae: Any, x: Any, labels: Any = None, method: str = "pca", seed: int = 0) -> Any:
    """Return a matplotlib Figure: the posterior means of ``x`` ``[N, D]`` in 2-D (see
    ``embed_2d``), coloured by ``labels`` ``[N]`` when given. Works for images and tables. A conditional
    model encodes each example under its own label (``labels`` required)."""
    rows = as_numpy(x).reshape(len(x), -1)
    cond = own_labels(vae, labels)
    z = as_numpy(vae.encode(rows) if cond is None else vae.encode(rows, labels=cond))
    points, axes = embed_2d(z, method, seed)
    fig = new_figure(6.0, 5.0)
    ax = fig.add_subplot()
    style = {"s": 10, "alpha": 0.8, "linewidths": 0}
    if labels is not None:
        labels = np.asarray(as_numpy(labels)).astype(np.int64).reshape(-1)
        classes = np.unique(labels)
        cmap = "tab10" if len(classes) <= 10 else "tab20"
        scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, **style)
        if len(classes) <= 20:
            fig.legend(
                *scatter.legend_elements(num=list(classes)), title="label", loc="outside right upper", fontsize=8
            )
    else:
        ax.scatter(points[:, 0], points[:, 1], color="#3366aa", **style)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    how = "posterior means" if z.shape[1] <= 2 else f"posterior means, {'PCA' if method == 'pca' else 't-SNE'}"
    ax.set_title(f"latent space ({how}, L = {z.shape[1]}, {len(z)} examples)", fontsize=10)
    return fig
