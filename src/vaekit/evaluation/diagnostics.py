"""What the latent code captured: active units, KL per dimension, reconstruction error, and a
linear probe of the labels on the posterior means."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: Burda et al. (2015): latent dimension u is active when Cov_x(E_q[z_u | x]) exceeds this.
ACTIVE_UNIT_THRESHOLD = 0.01


def posterior_mean_variance(mu: torch.Tensor) -> torch.Tensor:
    """Return Cov_x(E_q[z_u|x]) for each latent dimension: the variance over examples of the
    posterior means ``mu`` ``[N, L]``, ``[L]`` (population variance, in squared latent units)."""
    return mu.double().var(dim=0, unbiased=False)


def count_active_units(mu: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Return the number of latent dimensions whose posterior mean varies over examples by more
    than ``threshold`` (Burda et al.'s active units); the others have collapsed to the prior."""
    return int((posterior_mean_variance(mu) > threshold).sum().item())


def recon_mse(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Return the mean squared error between ``x`` and its reconstruction ``x_hat`` (both
    ``[N, D]``), averaged over examples and dimensions, in squared data units."""
    return float((x.double() - x_hat.double()).pow(2).mean().item())


def probe_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    codes: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit a multinomial logistic regression of the labels on standardised latent codes of the
    training split, and return its accuracy (fraction in [0, 1]) on ``codes``/``labels``.

    Returns ``{"accuracy", "train_examples", "classes"}``: a quick measure of how much of the
    label the code carries linearly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    classifier.fit(train_codes, train_labels)
    return {
        "accuracy": float(classifier.score(codes, labels)),
        "train_examples": int(len(train_codes)),
        "classes": int(len(np.unique(train_labels))),
    }
