"""What the latent code captured: active units, KL per dimension, reconstruction error, and a
linear probe of the labels on the posterior means."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: Burda et al. (2015): latent dimension u is active when Cov_x(E_q[z_u | x]) exceeds this.
ACTIVE_UNIT_THRESHOLD = 0.01

#: a posterior whose KL to the prior is below this many nats per example carries almost no
#: information about its example: the code has collapsed to the prior
COLLAPSED_KL_NATS = 0.1


def report_collapse_note(report: dict[str, Any]) -> str | None:
    """Return :func:`collapse_note` of an evaluation report's KL term (a hierarchy's per layer,
    where the whole has not collapsed), the remedy fitted to the report's ``objective``, or
    None for a report without a KL term (a deterministic autoencoder's)."""
    if "kl" not in report:
        return None
    objective = report.get("objective")
    note = collapse_note(report["kl"], objective)
    layers = report.get("kl_per_layer") or []
    if note is not None or len(layers) < 2:
        return note
    collapsed = [f"z{i + 1} ({kl:.3f} nats/example)" for i, kl in enumerate(layers) if kl < COLLAPSED_KL_NATS]
    if not collapsed:
        return None
    return (
        f"the posterior of layer {' and '.join(collapsed)} has collapsed to the prior: that layer carries almost "
        f"nothing about the data, the layers below do all the work. {_remedy(objective)}"
    )


def collapse_note(kl: float, objective: dict[str, Any] | None = None) -> str | None:
    """Return a note saying the posterior has collapsed, and what usually avoids it (given the
    run's ``objective``, a piece's mapping: a warm-up it already has is not advised again),
    when the KL term ``kl`` (nats per example) is below :data:`COLLAPSED_KL_NATS`; else None."""
    if kl >= COLLAPSED_KL_NATS:
        return None
    return (
        f"the posterior has collapsed to the prior (KL {kl:.3f} nats/example): the codes carry almost nothing "
        f"about the data and the decoder ignores them. {_remedy(objective)}"
    )


def _remedy(objective: dict[str, Any] | None) -> str:
    """Return what usually keeps a posterior from collapsing, for a run trained with ``objective``."""
    if objective and objective.get("warmup", "none") not in (None, "none"):
        return (
            "The run already warms the KL term up: a longer warm-up (a larger objective.warmup_steps), free bits "
            "(`--set objective.free_bits=0.5`, nats per dimension) or more epochs usually help"
        )
    return (
        "A KL warm-up usually avoids it (`--objective beta-elbo --set objective.warmup=linear "
        "--set objective.warmup_steps=N`, N a few epochs' steps); so can more epochs"
    )


class ColumnMoments:
    """The count, mean and sum of squared deviations of each column of rows added batch by
    batch (float64; batches merged as Chan, Golub and LeVeque do, so the variance is as exact
    as one pass over all the rows): the variance of posterior means over a split that is never
    held whole."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    @property
    def width(self) -> int:
        """The number of columns (0 before the first batch)."""
        return 0 if self.mean is None else int(self.mean.shape[0])

    def add(self, rows: torch.Tensor) -> None:
        """Add the rows ``[B, L]``."""
        rows = rows.detach().double().cpu()
        b = len(rows)
        if b == 0:
            return
        mean = rows.mean(0)
        m2 = (rows - mean).pow(2).sum(0)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = b, mean, m2
            return
        total = self.n + b
        delta = mean - self.mean
        self.mean = self.mean + delta * (b / total)
        self.m2 = self.m2 + m2 + delta.pow(2) * (self.n * b / total)
        self.n = total

    def variance(self) -> torch.Tensor:
        """Return each column's population variance ``[L]`` (float64)."""
        if self.m2 is None:
            raise ValueError("no rows were added")
        return self.m2 / self.n


def posterior_mean_variance(mu: torch.Tensor | ColumnMoments) -> torch.Tensor:
    """Return Cov_x(E_q[z_u|x]) for each latent dimension: the variance over examples of the
    posterior means ``mu`` ``[N, L]`` (or their :class:`ColumnMoments`), ``[L]`` (population
    variance, in squared latent units)."""
    if isinstance(mu, ColumnMoments):
        return mu.variance()
    return mu.double().var(dim=0, unbiased=False)


def count_active_units(mu: torch.Tensor | ColumnMoments, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
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


def layer_parts(output: Any) -> dict[str, torch.Tensor]:
    """Return what a hierarchical model's output adds to one evaluation batch, on the CPU:
    ``kl_layers`` ``[B, n_layers]`` (float64 nats) and ``layer_mu_<l>``, each layer's posterior
    code ``[B, L_l]``; an empty dict for a model with one latent layer."""
    parts: dict[str, torch.Tensor] = {}
    kl_layers = getattr(output, "kl_layers", None)
    if kl_layers is not None:
        parts["kl_layers"] = kl_layers.double().cpu()
    for index, mu in enumerate(getattr(output, "layer_means", None) or []):
        parts[f"layer_mu_{index}"] = mu.cpu()
    return parts


def add_layer_diagnostics(report: dict[str, Any], passed: dict[str, torch.Tensor]) -> None:
    """Add each stochastic layer's width, active units (Burda et al.'s count on its posterior
    codes, bottom first) and mean KL (nats per example) to ``report``, where ``passed`` holds
    :func:`layer_parts` of every batch; nothing for a model with one latent layer."""
    if "kl_layers" not in passed:
        return
    kl_layers = passed["kl_layers"]
    layers = kl_layers.width if isinstance(kl_layers, ColumnMoments) else int(kl_layers.shape[1])
    means = [passed[f"layer_mu_{i}"] for i in range(layers) if f"layer_mu_{i}" in passed]
    if means:
        report["latent_dims_per_layer"] = [mu.width if isinstance(mu, ColumnMoments) else int(mu.shape[1]) for mu in means]
        report["active_units_per_layer"] = [count_active_units(mu) for mu in means]
    kl_means = kl_layers.mean if isinstance(kl_layers, ColumnMoments) else kl_layers.mean(0)
    report["kl_per_layer"] = [float(v) for v in kl_means]
