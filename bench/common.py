"""Shared pieces of the benchmarks: MNIST loading, peak memory, the test -ELBO every contestant is scored by."""

from __future__ import annotations

import math
import os
import resource
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def mnist_dir() -> Path:
    """Folder of the MNIST IDX files: $VAEKIT_BENCH_MNIST or ../shared/data/mnist."""
    return Path(os.environ.get("VAEKIT_BENCH_MNIST", DEFAULT_MNIST))


def load_mnist_unit(limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST (train, test) as float32 [N, 784] grey levels in [0, 1], read with vaekit's reader
    (which keeps uint8 levels) and converted with its ``to_model_units``."""
    from vaekit.data import load_data, to_model_units

    bundle = load_data("mnist", data_dir=str(mnist_dir()))
    train, test = bundle.train, bundle.test
    if limit:
        train, test = train[:limit], test[: max(limit // 6, 100)]
    return to_model_units(train, bundle.levels), to_model_units(test, bundle.levels)


def mlp_vae_config(inputs: int = 784, hidden: int = 400, latent: int = 20):  # noqa: ANN201
    """Return a vaekit ``RunConfig`` for an MLP VAE ``inputs``-``hidden``-``latent`` (ReLU, Bernoulli,
    grey levels in [0, 1]); the defaults are issue 5's classic MNIST model."""
    from vaekit.config import RunConfig

    config = RunConfig()
    config.model.encoder, config.model.latent_dim = [hidden], latent
    config.input_shape, config.value_range = ([1, 28, 28] if inputs == 784 else [1, inputs, 1]), "unit"
    return config


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@torch.inference_mode()
def bernoulli_neg_elbo(encode, decode_logits, x: torch.Tensor, seed: int = 0, batch: int = 1000) -> float:
    """Single-sample -ELBO of a Bernoulli VAE on x, nats per example, with the same noise for every contestant.

    ``encode(x) -> (mu, logvar)``; ``decode_logits(z) -> logits [B, 784]``.
    """
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        mu, logvar = encode(xb)
        eps = torch.randn(mu.shape, generator=g)
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = F.binary_cross_entropy_with_logits(decode_logits(z), xb, reduction="sum")
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
        total += (rec + kl).item()
    return total / len(x)


def logit(p: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Inverse sigmoid, clamped so probabilities of exactly 0 or 1 stay finite."""
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def fmt(x: float) -> str:
    """Format a number with 3 significant digits (nan as '-')."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


__all__ = ["bernoulli_neg_elbo", "fmt", "load_mnist_unit", "logit", "median", "mnist_dir", "np", "peak_rss_mib"]
