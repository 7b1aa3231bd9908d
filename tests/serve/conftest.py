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


def typed_table(tmp_path_factory, name: str, **options):
    """Train a tiny run on a penguin-like CSV file (a typed table: the run has a table codec)."""
    from .helpers import penguin_rows

    data = tmp_path_factory.mktemp("tables") / f"{name}.csv"
    penguin_rows().to_csv(data, index=False)
    out = tmp_path_factory.mktemp("runs") / name
    vaekit.train(data=str(data), encoder=[16], latent_dim=3, epochs=15, batch_size=32, out=out, progress="quiet", **options)
    return out


@pytest.fixture(scope="session")
def typed_table_run(tmp_path_factory):
    """A run on a typed table (CSV with text categories and missing cells)."""
    return typed_table(tmp_path_factory, "penguins")


@pytest.fixture(scope="session")
def typed_table_client(typed_table_run):
    return make_client(typed_table_run)


@pytest.fixture(scope="session")
def conditional_typed_table_run(tmp_path_factory):
    """A conditional run on a typed table: trained with ``condition_on=["species"]``."""
    return typed_table(tmp_path_factory, "penguins-by-species", condition_on=["species"])
