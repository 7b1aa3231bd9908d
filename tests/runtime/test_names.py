"""Guessing the name meant from a misspelt one (vaekit.runtime.names)."""

import pytest

from vaekit.runtime.names import closest_names, did_you_mean

KINDS = ["anomalies", "curves", "interp", "latents", "manifold", "recon", "report", "samples", "traverse"]


@pytest.mark.parametrize("value, meant", [
    ("sample", ["samples"]),  # close by spelling
    ("reconstructions", ["recon"]),  # a name that begins what was typed
    ("interpolation", ["interp"]),
    ("Recon", ["recon"]),
    ("zzz", []),
    ("re", []),  # two letters begin too many names to guess from
])  # fmt: skip
def test_closest_names_by_spelling_else_by_a_shared_beginning(value, meant):
    assert closest_names(value, KINDS) == meant


def test_did_you_mean_names_the_guesses_or_nothing():
    assert did_you_mean("gausian", ["bernoulli", "gaussian"]) == " (did you mean 'gaussian'?)"
    assert did_you_mean("xyz", ["bernoulli", "gaussian"]) == ""
