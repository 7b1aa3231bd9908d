"""The model-family options of `vaekit train` and `vaekit sample --label`."""

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import vaekit
from vaekit.cli import main
from vaekit.runtime.errors import DataError

TINY = ["--data", "digits", "--encoder", "16", "--latent", "2", "--epochs", "1", "--batch-size", "128", "-q"]


def _train(tmp_path, name, *options):
    out = tmp_path / name
    result = CliRunner().invoke(main, ["train", *TINY, "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return out


def test_train_options_reach_the_saved_config(tmp_path):
    out = _train(
        tmp_path,
        "beta",
        "--model", "beta-vae",
        "--set", "objective.beta=2",
        "--set", "objective.warmup=cyclical",
        "--set", "objective.warmup_steps=20",
        "--set", "objective.free_bits=0.25",
        "--set", "net.normalization=layer",
        "--likelihood", "continuous-bernoulli",
    )  # fmt: skip
    model = json.loads((out / "config.json").read_text())["model"]
    assert model["name"] == "beta-vae"
    assert model["objective"] == {"name": "beta-elbo", "beta": 2, "warmup": "cyclical", "warmup_steps": 20, "free_bits": 0.25}
    assert model["net"] == {"name": "mlp", "encoder": [16], "decoder": None, "activation": "relu", "normalization": "layer"}
    assert model["likelihood"] == {"name": "continuous-bernoulli"}


def test_flags_of_earlier_versions_still_work_with_a_deprecation_message(tmp_path):
    out = tmp_path / "old"
    result = CliRunner().invoke(
        main, ["train", *TINY, "--out", str(out), "--model", "beta-vae", "--beta", "2", "--no-fused-step"]
    )
    assert result.exit_code == 0, result.output
    assert "--beta is deprecated; use --set objective.beta=2" in result.output
    assert "--no-fused-step is deprecated; use --fast off" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["objective"]["beta"] == 2 and config["train"]["fast"] == "off"


def test_train_help_lists_every_registered_piece_with_its_options():
    from vaekit.distributions import LIKELIHOODS, PRIORS
    from vaekit.models import MODELS
    from vaekit.objectives import OBJECTIVES

    text = " ".join(CliRunner().invoke(main, ["train", "--help"]).output.split())
    for registry in (MODELS, LIKELIHOODS, PRIORS, OBJECTIVES):
        for name in registry:
            assert name in text
    assert "iwae(k=5)" in text and "vamp(pseudo_inputs=100)" in text


def test_conv_iwae_with_a_discretized_logistic_mixture_trains_on_8x8_digits(tmp_path):
    out = _train(
        tmp_path,
        "conv",
        "--model", "iwae",
        "--set", "objective.k=3",
        "--net", "conv",
        "--set", "net.channels=8,16",
        "--likelihood", "discretized-logistic",
        "--set", "likelihood.mixtures=2",
    )  # fmt: skip
    result = CliRunner().invoke(main, ["evaluate", str(out), "--json", "--k", "20"])
    report = json.loads(result.stdout)
    assert report["exact_likelihood"] is True  # 17-level digits, 17-level bins
    assert report["k"] == 20 and report["nll"] > 0
    assert report["likelihood"] == "discretized-logistic"


def test_sample_with_a_label_from_a_cvae_run(tmp_path):
    out = _train(tmp_path, "cvae", "--model", "cvae")
    result = CliRunner().invoke(main, ["sample", str(out), "--label", "3", "-n", "5", "--out", str(tmp_path / "s.npy")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (5, 1, 8, 8)
    bad = CliRunner().invoke(main, ["sample", str(out), "--label", "12"])
    assert bad.exit_code == 2 and "0..9" in bad.output


def test_a_cvae_on_class_folders_takes_a_class_by_its_folder_name(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder in ("2", "10", "cat"):  # sorted as text: "10" = 0, "2" = 1, "cat" = 2
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i in range(6):
            Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(tmp_path / "data" / folder / f"{i}.png")
    out = tmp_path / "run"
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data"), "--model", "cvae", "--encoder", "8",
                                        "--latent", "2", "--epochs", "1", "--batch-size", "4", "--out", str(out), "-q"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    info = CliRunner().invoke(main, ["info", str(out)])
    assert "3: 0 = 10, 1 = 2, 2 = cat" in info.output
    vae = vaekit.load(out)
    for name, number in (("2", 1), ("cat", 2)):
        result = CliRunner().invoke(main, ["sample", str(out), "--label", name, "-n", "3", "--seed", "4", "--out", str(tmp_path / "s.npy")])
        assert result.exit_code == 0, result.output
        torch.manual_seed(4)
        np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), vae.sample(3, labels=number).numpy())
    bad = CliRunner().invoke(main, ["sample", str(out), "--label", "dog"])
    assert bad.exit_code == 2 and "give one of '10', '2', 'cat' or its number" in bad.output
    np.testing.assert_array_equal(vae.sample(2, labels=np.array(["cat", "2"])).shape, (2, 1, 6, 6))
    # another folder holding some of the classes is labelled by the run's numbers, by name
    for folder in ("2", "cat", "dog"):
        (tmp_path / "other" / folder).mkdir(parents=True)
        Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(tmp_path / "other" / folder / "0.png")
    with pytest.raises(DataError, match=r"class folder\(s\) 'dog' that this run was not trained on; its classes are '10', '2', 'cat'"):
        vaekit.api.resolve_eval_data(vae, str(tmp_path / "other"), None)
    shutil.rmtree(tmp_path / "other" / "dog")
    _, labels = vaekit.api.resolve_eval_data(vae, str(tmp_path / "other"), None)
    assert labels.tolist() == [1, 2]  # "2" and "cat" here are the run's classes 1 and 2, not 0 and 1


def test_label_is_refused_for_unconditional_models(tmp_path):
    out = _train(tmp_path, "vae")
    result = CliRunner().invoke(main, ["sample", str(out), "--label", "3"])
    assert result.exit_code == 2 and "not conditional" in result.output


def test_autoencoder_evaluation_says_it_has_no_elbo(tmp_path):
    out = _train(tmp_path, "ae", "--model", "ae")
    result = CliRunner().invoke(main, ["evaluate", str(out)])
    assert result.exit_code == 0, result.output
    assert "no likelihood" in result.output and "ELBO  " not in result.output


def test_an_option_of_another_family_is_an_error_naming_it_and_the_options_there_are(tmp_path):
    result = CliRunner().invoke(main, ["train", *TINY, "--out", str(tmp_path / "r"), "--set", "objective.beta=4"])
    assert result.exit_code == 2
    assert "objective 'elbo' (model 'vae') takes no option 'beta'; its options are: none" in result.output
    result = CliRunner().invoke(main, ["train", *TINY, "--out", str(tmp_path / "s"), "--set", "likelihood.sigma=0.1"])
    assert result.exit_code == 2 and "likelihood 'bernoulli' takes no option 'sigma'" in result.output


def test_yaml_config_selects_a_family_and_its_options(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "model:\n  name: vamp\n  prior: {pseudo_inputs: 7}\n  latent_dim: 2\n  net: {encoder: [16]}\n"
        "data:\n  name: digits\ntrain:\n  epochs: 1\n  batch_size: 128\n"
    )
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["train", "--config", str(tmp_path / "c.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    import vaekit

    assert vaekit.load(out).model.prior.pseudo_inputs.shape == (7, 64)


def test_conv_net_trains_on_an_image_folder_at_the_size_given_on_the_command_line(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(24):
        pixels = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "images" / f"img{i}.png")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "train", "--data", str(tmp_path / "images"), "--image-size", "9x7x3", "--net", "conv", "--set", "net.channels=[4, 8]",
            "--encoder", "16", "--latent", "2", "--epochs", "1", "--batch-size", "8", "--out", str(out), "-q",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import vaekit

    vae = vaekit.load(out)
    assert vae.input_shape == (3, 9, 7)
    assert vae.sample(2).shape == (2, 3, 9, 7)


def test_batch_norm_with_a_last_batch_of_one_is_refused_with_a_fix(tmp_path):
    # 1293 digits train: batch 1292 leaves one example in the last batch
    result = CliRunner().invoke(
        main, ["train", *TINY[:-3], "--batch-size", "1292", "--set", "net.normalization=batch", "-q", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "--batch-size" in result.output


def test_set_reads_numbers_lists_and_words_as_a_user_means_them():
    from vaekit.cli.options import parse_setting as _parse_setting

    assert _parse_setting("train.lr=3e-4") == ("train.lr", 3e-4)
    assert _parse_setting("objective.k=5") == ("objective.k", 5)
    assert _parse_setting("net.encoder=512,256") == ("net.encoder", [512, 256])
    assert _parse_setting("net.encoder=[64]") == ("net.encoder", [64])
    assert _parse_setting("net.activation=tanh") == ("net.activation", "tanh")
    assert _parse_setting("likelihood.sigma=null") == ("likelihood.sigma", None)
    assert _parse_setting("train.fast=off") == ("train.fast", "off")
    assert _parse_setting("data.binarize=no") == ("data.binarize", "no")
    assert _parse_setting("data.download=true") == ("data.download", True)
    assert _parse_setting("net.activation=nan") == ("net.activation", "nan")
    assert _parse_setting("train.lr=1e-3,2e-3") == ("train.lr", [1e-3, 2e-3])


def test_earlier_versions_piece_flags_are_rewritten_only_for_train():
    from vaekit.cli.options import translate_legacy_flags

    assert translate_legacy_flags(["--beta", "4"])[0] == ["--set", "objective.beta=4"]
    assert translate_legacy_flags(["--beta", "4"], piece_flags=False)[0] == ["--beta", "4"]
    assert translate_legacy_flags(["--no-fused-nll"], piece_flags=False)[0] == ["--fast", "off"]
