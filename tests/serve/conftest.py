"""Fixtures of the explorer's tests: apps over small trained runs."""

from __future__ import annotations

import pytest

import vaekit

from .helpers import make_client


@pytest.fixture(scope="session")
def digits4_run(tmp_path_factory):
    """A small VAE with 4 latent dimensions on the bundled digits (so its map is a PCA)."""
    out = tmp_path_factory.mktemp("runs") / "digits4"
    vaekit.train(data="digits", encoder=[32], latent_dim=4, epochs=3, batch_size=64, out=out, progress="quiet")
    return out


@pytest.fixture(scope="session")
def cvae_client(cvae_run):
    return make_client(cvae_run)


@pytest.fixture(scope="session")
def image_client(digits4_run):
    return make_client(digits4_run)


@pytest.fixture(scope="session")
def table_client(seed_run):
    return make_client(seed_run)
