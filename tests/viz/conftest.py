"""Loaded runs with their test split, shared by the picture tests."""

import pytest

import vaekit
from vaekit import api


@pytest.fixture(scope="module")
def digits(digits_run):
    """The digits run: ``(vae, x, labels)`` of its test split as the model sees it."""
    vae = vaekit.load(digits_run)
    x, labels = api.resolve_eval_data(vae, None, "test")
    return vae, x, labels


@pytest.fixture(scope="module")
def cvae(cvae_run):
    """The conditional digits run: ``(vae, x, labels)`` of its test split."""
    vae = vaekit.load(cvae_run)
    x, labels = api.resolve_eval_data(vae, None, "test")
    return vae, x, labels
