import numpy as np
import pytest
import torch

from vaekit.evaluation.diagnostics import (
    ACTIVE_UNIT_THRESHOLD,
    COLLAPSED_KL_NATS,
    collapse_note,
    count_active_units,
    posterior_mean_variance,
    probe_accuracy,
    recon_mse,
)


def test_active_units_count_dimensions_whose_posterior_mean_varies_over_the_threshold():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5000, 3, generator=g)
    base = (base - base.mean(0)) / base.std(0, unbiased=False)  # unit variance exactly
    mu = base * torch.tensor([1.0, 0.2, 0.05])  # variances 1, 0.04, 0.0025
    assert posterior_mean_variance(mu).tolist() == pytest.approx([1.0, 0.04, 0.0025])
    assert ACTIVE_UNIT_THRESHOLD == 0.01
    assert count_active_units(mu) == 2
    assert count_active_units(mu, threshold=0.05) == 1


def test_recon_mse_averages_over_examples_and_dimensions():
    x = torch.zeros(2, 4)
    x_hat = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 3.0]])
    assert recon_mse(x, x_hat) == pytest.approx((1 + 9) / 8)


def test_probe_reads_labels_that_the_codes_carry_and_not_those_they_do_not():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=600)
    codes = np.eye(3)[labels] * 4 + rng.normal(size=(600, 3))
    informed = probe_accuracy(codes[:400], labels[:400], codes[400:], labels[400:])
    assert informed["accuracy"] > 0.95 and informed["classes"] == 3 and informed["train_examples"] == 400
    noise = rng.normal(size=(600, 3))
    blind = probe_accuracy(noise[:400], labels[:400], noise[400:], labels[400:])
    assert blind["accuracy"] < 0.5


def test_collapse_note_names_the_kl_and_the_warm_up_only_below_the_threshold():
    assert collapse_note(COLLAPSED_KL_NATS) is None and collapse_note(2.5) is None
    note = collapse_note(0.004)
    assert note is not None and "KL 0.004 nats/example" in note
    assert "--objective beta-elbo --set objective.warmup=linear" in note


def test_a_collapsed_layer_is_named_and_a_warm_up_the_run_has_is_not_advised_again():
    from vaekit.evaluation.diagnostics import report_collapse_note

    plain = {"kl": 0.002, "objective": {"name": "elbo"}}
    assert "A KL warm-up usually avoids it" in report_collapse_note(plain)
    warmed = {"kl": 0.002, "objective": {"name": "beta-elbo", "warmup": "linear", "warmup_steps": 200}}
    assert "already warms the KL term up" in report_collapse_note(warmed)
    layered = {"kl": 0.99, "kl_per_layer": [0.98, 0.01], "objective": {"name": "elbo"}}
    assert report_collapse_note(layered).startswith("the posterior of layer z2 (0.010 nats/example) has collapsed")
    assert report_collapse_note({**layered, "kl_per_layer": [0.5, 0.49]}) is None
