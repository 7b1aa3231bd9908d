"""vaekit.evaluate (vaekit.api.evaluating): its report, and saving it into the run folder."""

import json

import numpy as np
import pytest
import torch

import vaekit
from vaekit.runtime.errors import ConfigError


def test_evaluate_of_bernoulli_on_grey_levels_reports_a_loss_not_a_likelihood(digits_run):
    report = vaekit.evaluate(digits_run)
    assert report["loss"] == pytest.approx(report["recon_loss"] + report["kl"])
    assert report["n_examples"] == 360  # the fixed 20% test split of 1797 digits
    assert report["exact_likelihood"] is False  # Bernoulli on grey levels is not a likelihood
    assert {"nll", "elbo", "bpd"}.isdisjoint(report)
    with pytest.raises(ConfigError, match="--binarize dynamic"):
        vaekit.evaluate(digits_run, k=10)


def test_evaluate_reports_nll_and_bits_per_dim_on_the_fixed_binarised_test_set(binarized_digits_run):
    from vaekit.data.views import binarize_fixed
    from vaekit.training.run_data import load_bundle

    vae = vaekit.load(binarized_digits_run)
    x, labels = vaekit.api.resolve_eval_data(vae, None, "test")
    assert torch.equal(x, binarize_fixed(load_bundle(vae.config).as_float("test")))
    report = vaekit.evaluate(vae, k=30)
    assert report["k"] == 30 and report["n_examples"] == 360
    assert report["bpd"] == pytest.approx(report["nll"] / (64 * np.log(2)))
    assert report["nll"] < -report["elbo"] + 3 * report["elbo_stderr"]
    assert 0 <= report["probe"]["accuracy"] <= 1 and report["probe"]["train_examples"] == 1293
    assert vaekit.evaluate(vae, k=30)["nll"] == report["nll"]  # same binarisation, same seed


def test_evaluate_writes_its_report_only_when_asked_as_vaekit_evaluate_names_it(binarized_digits_run, tmp_path):
    import shutil

    run = shutil.copytree(binarized_digits_run, tmp_path / "run")
    before = sorted(p.name for p in run.iterdir())
    vaekit.evaluate(run, k=5, probe=False)
    assert sorted(p.name for p in run.iterdir()) == before  # save=False: nothing written
    report = vaekit.evaluate(run, k=5, probe=False, save=True)
    saved = json.loads((run / "eval-test-k5.json").read_text())
    assert saved["nll"] == report["nll"] and saved["weights"] == "last" and saved["run_dir"] == str(run)
    vaekit.evaluate(vaekit.load(run, which="best"), k=0, probe=False, save=True)
    assert (run / "eval-test-best.json").exists()


def test_evaluate_save_to_a_folder_that_refuses_writes_warns_and_returns_the_report(
    binarized_digits_run, monkeypatch
):
    import vaekit.evaluation
    from vaekit.runtime.errors import NotWritableError, VaekitWarning

    def refuse(run_dir, report, own_data=True):
        raise NotWritableError(f"cannot write {run_dir}/eval-test.json: Read-only file system")

    monkeypatch.setattr(vaekit.evaluation, "write_report", refuse)
    with pytest.warns(VaekitWarning, match="not saved: cannot write .*Read-only"):
        report = vaekit.evaluate(binarized_digits_run, k=0, probe=False, save=True)
    assert "elbo" in report


def test_dequantised_training_draws_fresh_noise_and_evaluation_bounds_discrete_data(tmp_path, monkeypatch):
    from vaekit.training import loop

    calls = []
    original = loop.dequantize_uniform
    monkeypatch.setattr(loop, "dequantize_uniform", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    vae = vaekit.train(
        data="digits", likelihood="gaussian", dequantize="uniform", encoder=[16], latent_dim=2, epochs=1,
        batch_size=256, out=tmp_path / "run", progress="quiet",
    )
    assert len(calls) == 6  # one fresh draw per batch: ceil(1293 / 256)
    report = vaekit.evaluate(vae, k=10, probe=False)
    assert report["dequantization"]["levels"] == 17
    assert report["dequantization"]["offset_nats"] == pytest.approx(64 * np.log(17))
    assert report["bpd"] == pytest.approx(report["nll"] / (64 * np.log(2)))


def test_the_test_split_evaluated_right_after_training_is_not_read_again_and_gives_the_loaded_runs_numbers(tmp_path, monkeypatch):
    import vaekit.training.run_data as run_data
    from vaekit.evaluation.diagnostics import recon_mse

    vae = vaekit.train(data="digits", encoder=[16], latent_dim=2, epochs=1, out=tmp_path / "r", progress="quiet")
    reads = []
    load_bundle = run_data.load_bundle
    monkeypatch.setattr(run_data, "load_bundle", lambda *a, **k: reads.append(1) or load_bundle(*a, **k))
    fresh = vaekit.evaluate(vae, k=0, probe=False)
    assert reads == []
    loaded = vaekit.load(tmp_path / "r")
    again = vaekit.evaluate(loaded, k=0, probe=False)
    assert reads == [1]
    assert {k: v for k, v in fresh.items() if k != "seconds"} == {k: v for k, v in again.items() if k != "seconds"}
    x, _ = vaekit.api.resolve_eval_data(loaded, None, "test")
    assert again["recon_mse"] == pytest.approx(recon_mse(x, loaded.reconstruct(x).reshape(len(x), -1)), rel=1e-9)
