"""Shared fixtures: small trained runs made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vaekit


@pytest.fixture(autouse=True)
def _few_threads():
    # Small matmuls run faster and more repeatably on one thread; CI has 2 cores.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A tiny VAE trained for 2 epochs on the bundled digits; returns its run folder."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    vaekit.train(data="digits", encoder=[32], latent_dim=2, epochs=2, batch_size=64, out=out, progress="quiet")
    return out


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory) -> Path:
    """The founding-diagram network trained for 2 epochs on synthetic5; returns its run folder."""
    out = tmp_path_factory.mktemp("runs") / "seed"
    vaekit.train(preset="seed", epochs=2, out=out, progress="quiet")
    return out


@pytest.fixture(scope="session")
def binarized_digits_run(tmp_path_factory) -> Path:
    """A tiny Bernoulli VAE trained for 2 epochs on dynamically binarised digits."""
    out = tmp_path_factory.mktemp("runs") / "binarized"
    vaekit.train(
        data="digits", binarize="dynamic", encoder=[32], latent_dim=2, epochs=2, batch_size=64, out=out, progress="quiet"
    )
    return out


@pytest.fixture(scope="session")
def cvae_run(tmp_path_factory) -> Path:
    """A tiny conditional VAE (cvae) with 2 latent dimensions, 2 epochs on the bundled digits."""
    out = tmp_path_factory.mktemp("runs") / "cvae"
    vaekit.train(
        data="digits", model="cvae", encoder=[16], latent_dim=2, epochs=2, batch_size=64, out=out, progress="quiet"
    )
    return out


@pytest.fixture
def registries():
    """The registries of every kind of piece, with whatever a test registers removed after it."""
    from vaekit.distributions import LIKELIHOODS, PRIORS
    from vaekit.models import MODELS
    from vaekit.nets import NETS
    from vaekit.objectives import OBJECTIVES

    kinds = {"likelihood": LIKELIHOODS, "model": MODELS, "objective": OBJECTIVES, "prior": PRIORS, "net": NETS}
    before = {kind: dict(registry) for kind, registry in kinds.items()}
    yield kinds
    for kind, registry in kinds.items():
        registry.clear()
        registry.update(before[kind])
