"""The evaluation report's honesty rules, units and file form."""

import json
import math

import pytest
import torch

from vaekit.distributions import BernoulliLikelihood
from vaekit.evaluation import bits_per_dim, evaluate_model, format_report, write_report
from vaekit.models.vae import VAE
from vaekit.nets import GaussianEncoder, MLPDecoder
from vaekit.runtime.errors import ConfigError

from .linear_gaussian import linear_gaussian_vae, loosen_encoder, sample_data


def test_bits_per_dim_is_nats_over_d_ln2_by_hand():
    assert bits_per_dim(8 * math.log(2), 4) == pytest.approx(2.0)
    assert bits_per_dim(784 * math.log(2) * 0.25, 784) == pytest.approx(0.25)


def test_exact_model_reports_nll_with_stderr_and_bpd_in_bits_per_dim():
    model, truth = linear_gaussian_vae()
    loosen_encoder(model)
    x = sample_data(200, truth)
    report = evaluate_model(model, x, value_range="real", is_image=True, k=50, seed=0)
    assert report["k"] == 50 and report["exact_likelihood"] is True
    assert report["bpd"] == pytest.approx(report["nll"] / (6 * math.log(2)))
    assert report["bpd_stderr"] == pytest.approx(report["nll_stderr"] / (6 * math.log(2)))
    assert report["neg_elbo_bpd"] == pytest.approx(-report["elbo"] / (6 * math.log(2)))
    assert report["elbo"] == pytest.approx(report["recon"] - report["kl"])
    assert sum(report["kl_per_dim"]) == pytest.approx(report["kl"])
    assert 0 < report["nll_stderr"] < 1
    assert report["nll"] < -report["elbo"]  # K = 50 is tighter than the ELBO
    assert "NLL (K=50)" in format_report(report) and "bits/dim" in format_report(report)


def test_tables_have_no_bpd():
    model, truth = linear_gaussian_vae()
    report = evaluate_model(model, sample_data(20, truth), value_range="real", k=5)
    assert "nll" in report and "bpd" not in report and "neg_elbo_bpd" not in report


def test_default_k_is_5000_for_an_exact_likelihood():
    model, truth = linear_gaussian_vae(dim=3, latent=1)
    report = evaluate_model(model, sample_data(3, truth), value_range="real")
    assert report["k"] == 5000 and "nll" in report


def grey_level_bernoulli_model():
    torch.manual_seed(0)
    return VAE(6, 2, GaussianEncoder(6, [8], 2), MLPDecoder(2, [8], 6), BernoulliLikelihood(6)).eval()


def test_bernoulli_on_grey_levels_gives_a_loss_never_an_nll_elbo_or_bpd():
    x = torch.rand(30, 6)
    report = evaluate_model(grey_level_bernoulli_model(), x, value_range="unit", is_image=True)
    assert {"nll", "bpd", "elbo", "neg_elbo_bpd", "recon"}.isdisjoint(report)
    assert report["exact_likelihood"] is False and report["k"] == 0
    assert report["loss"] == pytest.approx(report["recon_loss"] + report["kl"])
    assert "--binarize dynamic" in report["note"]
    table = format_report(report)
    assert "NLL (K=" not in table and "bits/dim" not in table and "loss (not a likelihood)" in table


def test_asking_for_the_nll_of_bernoulli_on_grey_levels_names_the_fix():
    with pytest.raises(ConfigError, match="--binarize dynamic"):
        evaluate_model(grey_level_bernoulli_model(), torch.rand(5, 6), value_range="unit", k=10)


def test_asking_for_the_nll_of_a_density_on_discrete_pixels_names_dequantisation():
    model, truth = linear_gaussian_vae()
    with pytest.raises(ConfigError, match="--dequantize uniform"):
        evaluate_model(model, sample_data(5, truth), value_range="unit", k=10)


def test_binary_data_with_bernoulli_is_exact():
    x = torch.bernoulli(torch.full((20, 6), 0.3), generator=torch.Generator().manual_seed(0))
    report = evaluate_model(grey_level_bernoulli_model(), x, value_range="binary", is_image=True, k=20)
    assert report["nll"] > 0 and report["bpd"] > 0


def test_dequantised_nll_adds_d_log_levels_to_bound_the_discrete_data():
    model, truth = linear_gaussian_vae()
    x = sample_data(30, truth)
    continuous = evaluate_model(model, x, value_range="real", k=20, seed=3)
    discrete = evaluate_model(model, x, value_range="unit", dequantize="uniform", levels=256, k=20, seed=3)
    offset = 6 * math.log(256)
    assert discrete["nll"] == pytest.approx(continuous["nll"] + offset)
    assert discrete["elbo"] == pytest.approx(continuous["elbo"] - offset)
    assert discrete["dequantization"] == {"kind": "uniform", "levels": 256, "offset_nats": pytest.approx(offset)}


def test_deterministic_autoencoder_reports_reconstruction_error_only():
    model, truth = linear_gaussian_vae()
    model.variational = False
    x = sample_data(10, truth)
    report = evaluate_model(model, x, value_range="real")
    assert {"nll", "elbo", "kl", "bpd", "loss"}.isdisjoint(report)
    assert report["recon_mse"] >= 0 and "autoencoder" in report["nll_skipped"]
    with pytest.raises(ConfigError, match="deterministic autoencoder"):
        evaluate_model(model, x, value_range="real", k=10)


def test_a_posterior_collapsed_to_the_prior_is_noted_and_a_working_one_is_not():
    model, truth = linear_gaussian_vae()
    x = sample_data(50, truth)
    assert "collapse:" not in format_report(evaluate_model(model, x, value_range="real", k=10))
    with torch.no_grad():  # q(z|x) = N(0, I) = p(z) for every x
        model.encoder.mu.weight.zero_()
        model.encoder.mu.bias.zero_()
        model.encoder.logvar.bias.zero_()
    report = evaluate_model(model, x, value_range="real", k=10)
    assert report["kl"] == pytest.approx(0.0, abs=1e-6)
    assert "collapse: the posterior has collapsed to the prior (KL 0.000" in format_report(report)


def test_probe_is_fitted_on_training_codes_and_scored_on_the_split():
    model, truth = linear_gaussian_vae()
    x = sample_data(300, truth)
    labels = (x[:, 0] > x[:, 0].median()).long()
    report = evaluate_model(
        model, x[200:], labels=labels[200:], probe_data=(x[:200], labels[:200]), value_range="real", k=0
    )
    assert report["probe"]["train_examples"] == 200 and report["probe"]["classes"] == 2
    assert 0.5 <= report["probe"]["accuracy"] <= 1.0


def test_report_file_is_named_by_split_and_k(tmp_path):
    model, truth = linear_gaussian_vae()
    report = {"split": "test", **evaluate_model(model, sample_data(5, truth), value_range="real", k=3)}
    path = write_report(tmp_path, report)
    assert path.name == "eval-test-k3.json"
    assert json.loads(path.read_text())["nll"] == report["nll"]
    assert (
        write_report(tmp_path, {**report, "data": "/x/other.npy"}, own_data=False).name == "eval-other.npy-test-k3.json"
    )


def test_a_likelihood_that_declares_no_exact_data_is_told_to_set_exact_for():
    from types import SimpleNamespace

    from vaekit.evaluation.report import not_a_likelihood_reason

    reason = not_a_likelihood_reason(SimpleNamespace(name="laplace", exact_for=frozenset()), "unit")
    assert "its exact_for is empty" in reason and "no retraining is needed" in reason
