import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import vaekit
from vaekit.runtime.errors import CheckpointError, ConfigError, DataError


def test_loaded_model_gives_identical_outputs_in_a_fresh_process(digits_run, tmp_path):
    vae = vaekit.load(digits_run)
    x = torch.rand(5, 64)
    z = torch.randn(5, 2)
    here = {"mu": vae.encode(x).tolist(), "x_hat": vae.decode(z).reshape(5, -1).tolist()}
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "z.npy", z.numpy())
    here["weights"] = {k: v.flatten().tolist() for k, v in vae.model.state_dict().items()}
    code = (
        "import json, sys, numpy as np, vaekit\n"
        f"vae = vaekit.load({str(digits_run)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r}); z = np.load({str(tmp_path / 'z.npy')!r})\n"
        "weights = {k: v.flatten().tolist() for k, v in vae.model.state_dict().items()}\n"
        "print(json.dumps({'mu': vae.encode(x).tolist(), 'x_hat': vae.decode(z).reshape(5, -1).tolist(), "
        "'weights': weights}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = json.loads(out.stdout)
    assert there["weights"] == here["weights"]  # the same numbers, bit for bit
    # The same weights on the same inputs: the outputs agree to float32 rounding. Bit for bit they
    # need not: the matmul kernels' path depends on where the inputs lie in memory.
    for key in ("mu", "x_hat"):
        torch.testing.assert_close(torch.tensor(there[key]), torch.tensor(here[key]), rtol=1e-5, atol=1e-6)


def test_encode_returns_posterior_means_and_sampling_is_explicit(digits_run):
    vae = vaekit.load(digits_run)
    x = torch.rand(4, 1, 8, 8)
    mu, _ = vae.encode_distribution(x)
    assert torch.equal(vae.encode(x), mu)
    assert torch.equal(vae.encode(x), vae.encode(x))
    assert not torch.equal(vae.encode(x, sample=True), mu)


def test_decode_and_sample_return_examples_in_the_data_shape(digits_run):
    vae = vaekit.load(digits_run)
    assert vae.sample(3).shape == (3, 1, 8, 8)
    assert vae.decode(np.zeros((2, 2), dtype=np.float32)).shape == (2, 1, 8, 8)


def test_wrong_input_width_is_refused(digits_run):
    vae = vaekit.load(digits_run)
    with pytest.raises(DataError, match="expects 64"):
        vae.encode(torch.rand(2, 10))
    with pytest.raises(DataError, match="NaN"):
        vae.encode(torch.full((2, 64), float("nan")))


@pytest.mark.parametrize("call, message", [
    (lambda vae: vae.sample(2.5), "an integer >= 1, got 2.5"),
    (lambda vae: vae.sample("3"), "an integer >= 1, got '3'"),
    (lambda vae: vae.sample(3, temperature="hot"), r"temperature must be a finite number >= 0 .*got 'hot'"),
    (lambda vae: vae.decode(np.zeros((0, 2))), "no latent codes: give at least one row"),
    (lambda vae: vae.decode(np.array([["a", "b"]])), "must be numbers"),
    (lambda vae: vae.encode(np.full((2, 64), 255.0)), "divide 8-bit pixels by 255"),
    (lambda vae: vae.encode("x.npy"), "are arrays, not a path"),
    (lambda vae: vaekit.load(123), "load takes a run folder's path, got int 123"),
    (lambda vae: vaekit.load(vae.run_dir / "model.safetensors"), r"is a file, not a run folder: give the folder"),
    (lambda vae: vaekit.load(vae.run_dir, device="gpu"), "unknown device 'gpu'; use auto, cpu, cuda"),
    (lambda vae: vaekit.evaluate(vae, k=2.5), r"k must be a whole number >= 0, got 2.5"),
    (lambda vae: vaekit.evaluate(vae, k=2, batch_size=0), r"batch_size must be a whole number >= 1, got 0"),
    (lambda vae: vaekit.evaluate(vae, k=2, max_chunk_elements=0), r"max_chunk_elements must be a whole number >= 1"),
    (lambda vae: vaekit.evaluate(vae, k=2, seed="x"), r"seed must be a whole number, got 'x'"),
    (lambda vae: vaekit.evaluate(vae, k=2, fast="on"), r"fast must be one of auto, off, got 'on'"),
    (lambda vae: vaekit.evaluate(vae, data=np.zeros((3, 64))), r"got ndarray: save it first .*vae.score\(x\)"),
    (lambda vae: vaekit.train(data=np.zeros((3, 4)), out=vae.run_dir), r"got an array of shape \(3, 4\): save it first"),
    (lambda vae: vaekit.train(data="digits", out=None), "out must be the path of the run folder"),
    (lambda vae: vae.encode(np.zeros((5, 1, 4, 16))), r"shaped \(1, 4, 16\) each; this model expects \(1, 8, 8\)"),
])  # fmt: skip
def test_wrong_arguments_get_a_message_naming_the_fix(digits_run, call, message):
    with pytest.raises((ConfigError, DataError, CheckpointError), match=message):
        call(vaekit.load(digits_run))


def test_uint8_grey_levels_are_refused_rather_than_read_as_0_to_255(digits_run):
    from vaekit.data import load_data

    vae = vaekit.load(digits_run)
    bundle = load_data("digits")
    with pytest.raises(DataError, match="uint8.*as_float"):
        vae.encode(bundle.test[:2])
    with pytest.raises(DataError, match="uint8"):
        vae.reconstruct(bundle.test[:2].numpy())
    assert vae.encode(bundle.as_float("test")[:2]).shape == (2, vae.latent_dim)


def test_evaluate_of_bernoulli_on_grey_levels_reports_a_loss_not_a_likelihood(digits_run):
    report = vaekit.evaluate(digits_run)
    assert report["loss"] == pytest.approx(report["recon_loss"] + report["kl"])
    assert report["n_examples"] == 360  # the fixed 20% test split of 1797 digits
    assert report["exact_likelihood"] is False  # Bernoulli on grey levels is not a likelihood
    assert {"nll", "elbo", "bpd"}.isdisjoint(report)
    with pytest.raises(ConfigError, match="--binarize dynamic"):
        vaekit.evaluate(digits_run, k=10)


@pytest.mark.parametrize("options", [{"likelihood": "discretized-logistic"}, {"binarize": "dynamic"}])
def test_evaluate_refuses_grey_levels_that_are_not_the_runs(tmp_path, options):
    from vaekit.data import load_data

    levels = load_data("digits").test.numpy()  # uint8, 0..16
    np.save(tmp_path / "table.npy", levels)  # 2-D: read as values, here 0..16 where [0, 1] is meant
    np.save(tmp_path / "images.npy", levels.reshape(-1, 8, 8))  # uint8 images: read as 8-bit pixels
    np.save(tmp_path / "floats.npy", (levels / 16).astype(np.float32))
    vae = vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=1, out=tmp_path / "r", progress="quiet", **options)
    for split in (None, "test"):
        with pytest.raises(DataError, match=r"outside \[0, 1\] \(0 .. 16\).*divide its grey levels \(0..16\) by 16"):
            vaekit.evaluate(vae, data=str(tmp_path / "table.npy"), split=split, k=2)
        if "binarize" not in options:  # a binarised run takes any grey levels in [0, 1]
            with pytest.raises(DataError, match=r"8-bit pixels \(0..255\), but this run's data had 17 grey levels"):
                vaekit.evaluate(vae, data=str(tmp_path / "images.npy"), split=split, k=2)
    # the same examples as floats in [0, 1] are the run's own test split
    whole = vaekit.evaluate(vae, data=str(tmp_path / "floats.npy"), k=2)
    assert whole["n_examples"] == len(levels) and whole["nll"] == pytest.approx(vaekit.evaluate(vae, k=2)["nll"], rel=1e-6)


def test_evaluate_reads_image_files_as_8_bit_pixels_and_refuses_an_ambiguous_uint8_array(digits_run, tmp_path):
    from PIL import Image

    from vaekit.data import load_data

    levels = load_data("digits").test.numpy()[:20].reshape(-1, 8, 8)  # uint8, 0..16
    (tmp_path / "images").mkdir()
    for i, image in enumerate(levels):
        Image.fromarray(image * 17).save(tmp_path / "images" / f"{i:03d}.png")
    np.save(tmp_path / "pixels.npy", levels * 17)  # the same 8-bit pixels, as an array
    vae = vaekit.load(digits_run)  # Bernoulli on the digits' 17 levels: its numbers do not depend on them
    assert vaekit.evaluate(vae, data=str(tmp_path / "images"), k=0, probe=False)["n_examples"] == 20
    # an array of uint8 values could be either the run's levels or 8-bit pixels: as `score` does, refused
    with pytest.raises(DataError, match=r"x / 16 if they are the run's levels, x / 255 if they are 8-bit pixels"):
        vaekit.evaluate(vae, data=str(tmp_path / "pixels.npy"), k=0, probe=False)


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


def test_best_weights_load_too(digits_run):
    assert vaekit.load(digits_run, which="best").sample(1).shape == (1, 1, 8, 8)


def test_loading_a_folder_that_is_not_a_run_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        vaekit.load(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        vaekit.load(tmp_path / "nope")


def test_truncated_config_gives_a_clear_error(digits_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    text = (copy / "config.json").read_text()
    (copy / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        vaekit.load(copy)


def test_unknown_training_option_is_refused():
    with pytest.raises(ConfigError, match=r"unknown training option 'latnet' \(did you mean .*latent_dim=\?\)"):
        vaekit.build_config(latnet=3)


@pytest.mark.parametrize(
    ("key", "meant"),
    [("quiet", "progress='quiet'"), ("learning_rate", "lr="), ("num_epochs", "epochs="), ("batch", "batch_size=")],
)
def test_an_unknown_option_names_the_one_meant(key, meant, tmp_path):
    with pytest.raises(ConfigError, match=f"did you mean {re.escape(meant)}") as refused:
        vaekit.train(data="digits", epochs=1, out=tmp_path / "run", **{key: 1})
    assert "help(vaekit.build_config)" in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_an_unknown_option_like_nothing_known_names_no_guess():
    with pytest.raises(ConfigError) as refused:
        vaekit.build_config(zzzz=1)
    assert "did you mean" not in str(refused.value)


def test_pieces_take_a_name_or_a_mapping_of_their_options():
    cfg = vaekit.build_config(
        model="beta-vae", likelihood="gaussian", objective={"beta": 4.0}, prior={"name": "vamp", "pseudo_inputs": 9},
        net="conv", encoder=[32],
    )  # fmt: skip
    assert cfg.model.likelihood == {"name": "gaussian"}
    assert cfg.model.objective == {"name": None, "beta": 4.0}
    assert cfg.model.prior == {"name": "vamp", "pseudo_inputs": 9}
    assert cfg.model.net == {"name": "conv", "encoder": [32]}


def test_flat_options_of_earlier_versions_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match=r"beta= is deprecated.*objective=\{'beta': 4.0\}"):
        cfg = vaekit.build_config(model="beta-vae", beta=4.0, likelihood="gaussian")
    with pytest.warns(DeprecationWarning, match=r"sigma= is deprecated"):
        cfg = vaekit.build_config(model="beta-vae", objective={"beta": 4.0}, likelihood="gaussian", sigma=0.5)
    assert cfg.model.objective["beta"] == 4.0
    assert cfg.model.likelihood == {"name": "gaussian", "sigma": 0.5}
    with pytest.warns(DeprecationWarning, match="fast='auto'|'off'"):
        assert vaekit.build_config(fused_step=False).train.fast == "off"


def test_preset_refuses_conflicting_architecture():
    with pytest.raises(ConfigError, match="fixes the architecture"):
        vaekit.build_config(preset="seed", latent_dim=7)


def test_import_vaekit_does_not_import_torch():
    code = "import sys, vaekit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_paths_may_be_given_as_pathlib_paths(tmp_path):
    import numpy as np

    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32))
    cfg = vaekit.build_config(data=tmp_path / "rows.npy", data_dir=tmp_path)
    assert cfg.data.name == str(tmp_path / "rows.npy") and cfg.data.data_dir == str(tmp_path)


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


@pytest.mark.parametrize("labels, message", [
    (["a", "b"], "label 'a' is not a class of this run: give a class number"),
    ([0.5, 1.5], "labels must be whole class numbers; got fractions"),
    ([0, 10], r"labels must be in 0..9, got 0..10"),
    ([-1, 2], r"labels must be in 0..9, got -1..2"),
    ([1, 2, 3], "got 3 labels for 2 examples"),
    (None, r"is conditional: pass labels= \(one class number"),
])  # fmt: skip
def test_a_conditional_models_labels_are_checked(cvae_run, labels, message):
    vae = vaekit.load(cvae_run)
    with pytest.raises((ConfigError, DataError), match=message):
        vae.decode(np.zeros((2, 2)), labels=labels)
    assert vae.decode(np.zeros((2, 2)), labels=[1.0, 2.0]).shape == vae.decode(np.zeros((2, 2)), labels=[1, 2]).shape
    assert torch.equal(vae.decode(np.zeros((2, 2)), labels=np.array([1.0, 2.0])), vae.decode(np.zeros((2, 2)), labels=[1, 2]))


def test_grey_images_may_leave_their_channel_out_and_lists_score_as_they_encode(digits_run):
    import warnings

    vae = vaekit.load(digits_run)
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    codes = vae.encode(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DataFrame's read-only values raised torch's warning
        torch.testing.assert_close(vae.encode(pd_frame(x)), codes)
    torch.testing.assert_close(vae.encode(x.reshape(5, 8, 8)), codes)
    torch.testing.assert_close(vae.encode(x[0].reshape(8, 8)), codes[:1])
    torch.testing.assert_close(vae.encode(x[0].reshape(1, 8, 8)), codes[:1])
    np.testing.assert_array_equal(vae.score(x.tolist(), k=3), vae.score(x, k=3))


def pd_frame(x: np.ndarray):
    import pandas as pd

    return pd.DataFrame(x)


def test_a_conditional_models_examples_are_scored_with_their_labels(cvae_run):
    vae = vaekit.load(cvae_run)
    x, y = vaekit.api.resolve_eval_data(vae, None, "test")
    with pytest.raises(ConfigError, match=r"scoring needs each example's class \(labels= in Python"):
        vae.score(x[:4].numpy(), kind="recon")
    scores = vae.score(x[:4].numpy(), kind="recon", labels=y[:4])
    assert scores.shape == (4,) and np.isfinite(scores).all()
    other = vae.score(x[:4].numpy(), kind="recon", labels=(y[:4] + 1) % 10)
    assert not np.allclose(scores, other)  # the class conditions the model
    assert vae.explain(x[:4].numpy(), kind="recon", labels=y[:4].numpy()).contributions.shape == (4, 64)
    with pytest.raises(DataError, match="labels= must be 4 whole class numbers"):
        vae.score(x[:4].numpy(), labels=[0.5] * 4)


def test_a_time_limit_of_0_is_no_limit_for_train_as_for_resume():
    assert vaekit.build_config(data="digits", time_limit=0).train.time_limit is None
    assert vaekit.build_config(data="digits", time_limit=5).train.time_limit == 5


def test_a_run_whose_own_images_now_read_in_another_shape_is_told_why_and_to_train_again(tmp_path):
    import json

    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(6):
        Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    vaekit.train(data=str(tmp_path / "images"), encoder=[4], latent_dim=2, epochs=1, batch_size=4, out=tmp_path / "r", progress="quiet")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["data_file"] = None  # a run trained before folders were recorded
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    for i in range(6):  # the same files, now read as one channel (as grey + alpha images are)
        Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    with pytest.raises(DataError, match=r"own data .* now reads as 1 channel of 6x6 pixels .*trained on 3 channels.*train the run again"):
        vaekit.evaluate(tmp_path / "r", k=0, probe=False)
