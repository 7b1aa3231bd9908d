"""Evaluation metrics in the library's units: nats per example, and bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import torch

from vaekit.training.loop import mean_negative_elbo


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    """Convert nats per example to bits per dimension: nats / (D ln 2)."""
    return nats_per_example / (dim * math.log(2.0))


def elbo_report(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    is_image: bool,
    value_range: str | None,
    seed: int = 0,
    batch_size: int = 1024,
    y: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Return the single-sample ELBO and its terms on ``x`` ``[N, D]``.

    Keys: ``elbo`` (higher is better), ``neg_elbo``, ``recon`` (E_q log p(x|z)), ``kl``, all nats
    per example; ``bpd_bound`` (the -ELBO in bits/dim, images only); ``exact_likelihood`` says
    whether the likelihood is a normalised density for this data (e.g. not Bernoulli on grey levels).
    Sampling uses its own seed and leaves the global RNG as it was. Conditional models need
    the labels ``y`` of the rows. ``variational`` is False for deterministic models (the plain
    autoencoder), whose "elbo" is only the reconstruction term.
    """
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        terms = mean_negative_elbo(model, x, batch_size=batch_size, y=y)
    likelihood = model.likelihood
    report: dict[str, Any] = {
        "n_examples": len(x),
        "elbo": terms["elbo"],
        "neg_elbo": terms["loss"],
        "recon": terms["recon"],
        "kl": terms["kl"],
        "likelihood": likelihood.name,
        "exact_likelihood": value_range in likelihood.exact_for,
        "variational": bool(getattr(model, "variational", True)),
    }
    if is_image:
        report["bpd_bound"] = bits_per_dim(terms["loss"], x.shape[1])
    return report
