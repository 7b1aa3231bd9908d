"""The CLI verbs end to end on tiny data (click's CliRunner, plus one real subprocess)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vaekit.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke("train", "--data", "digits", "--encoder", "32", "--latent", "2", "--epochs", "2",
                    "--batch-size", "64", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "test loss" in result.output and "not a likelihood" in result.output  # Bernoulli on grey levels
    return out


def test_train_warns_on_stderr_when_the_posterior_collapsed(tmp_path):
    # a KL weight of 200 drives q(z|x) onto the prior within a few epochs
    result = invoke("train", "--data", "digits", "--encoder", "32", "--latent", "2", "--epochs", "3",
                    "--objective", "beta-elbo", "--set", "objective.beta=200", "--out", tmp_path / "r", "-q")
    assert result.exit_code == 0, result.output
    assert "warning: the posterior has collapsed to the prior" in result.stderr
    assert "objective.warmup=linear" in result.stderr


def test_train_writes_a_complete_run_folder(cli_run):
    assert (cli_run / "samples.png").stat().st_size > 0
    config = json.loads((cli_run / "config.json").read_text())
    net = {"name": "mlp", "encoder": [32], "decoder": None, "activation": "relu", "normalization": "none"}
    assert config["model"]["net"] == net and config["model"]["latent_dim"] == 2


def test_train_with_yaml_config_and_option_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  latent_dim: 3\n  encoder: [16]\ntrain:\n  epochs: 1\n  batch_size: 64\n")
    out = tmp_path / "run"
    result = invoke("train", "--config", tmp_path / "c.yaml", "--latent", "4", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["latent_dim"] == 4 and config["model"]["net"]["encoder"] == [16]


def test_seed_preset_trains_on_synthetic5(tmp_path):
    out = tmp_path / "seed"
    result = invoke("train", "--preset", "seed", "--epochs", "2", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["name"] == "synthetic5"
    assert config["model"]["net"] == {"name": "mlp", "encoder": [4, 3], "decoder": [3, 4], "activation": "relu", "normalization": "none"}
    assert config["model"]["latent_dim"] == 3
    assert config["input_shape"] == [5]


def test_evaluate_of_grey_level_bernoulli_prints_a_loss_table_and_json(cli_run):
    table = invoke("evaluate", cli_run)
    assert table.exit_code == 0 and "nats/example" in table.output and "loss (not a likelihood)" in table.output
    assert "bits/dim" not in table.output and "NLL (K=" not in table.output
    report = json.loads(invoke("evaluate", cli_run, "--json", "--no-probe").stdout)
    assert report["loss"] == pytest.approx(report["recon_loss"] + report["kl"])
    assert "nll" not in report and "probe" not in report
    assert (cli_run / "eval-test.json").exists()


def test_evaluate_refuses_an_nll_of_bernoulli_on_grey_levels(cli_run):
    result = CliRunner().invoke(main, ["evaluate", str(cli_run), "--k", "5"])
    assert result.exit_code == 2
    assert "error: refusing to report an NLL" in result.output and "--binarize dynamic" in result.output and "leave out --k" in result.output


@pytest.fixture
def binarized_copy(binarized_digits_run, tmp_path):
    """A copy of the shared binarised run: evaluate writes its reports into the run folder."""
    return shutil.copytree(binarized_digits_run, tmp_path / "run")


def test_evaluate_with_k_writes_the_report_named_by_k(binarized_copy):
    binarized_digits_run = binarized_copy
    result = invoke("evaluate", binarized_digits_run, "--k", "12", "--json", "--max-chunk-elements", "5000")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["k"] == 12 and report["weights"] == "last"
    trainer = json.loads((binarized_digits_run / "trainer.json").read_text())
    assert (report["weights_epoch"], report["weights_step"]) == (trainer["epoch"], trainer["step"])
    saved = json.loads((binarized_digits_run / "eval-test-k12.json").read_text())
    assert saved["nll"] == report["nll"]
    table = invoke("evaluate", binarized_digits_run, "--k", "12", "--which", "best", "--no-probe")
    assert "NLL (K=12)" in table.output and "bits/dim" in table.output
    assert f"(best weights of epoch {trainer['best_epoch']})" in table.output
    assert (binarized_digits_run / "eval-test-k12-best.json").exists()


def test_evaluate_says_which_nll_path_ran_and_fast_off_gives_the_same_bound(binarized_copy):
    binarized_digits_run = binarized_copy
    fused = json.loads(invoke("evaluate", binarized_digits_run, "--k", "20", "--json", "--no-probe").stdout)
    generic = invoke("evaluate", binarized_digits_run, "--k", "20", "--json", "--no-probe", "--fast", "off")
    assert generic.exit_code == 0, generic.output
    generic = json.loads(generic.stdout)
    assert fused["nll_path"] == "fused" and generic["nll_path"] == "generic"
    assert fused["nll"] != generic["nll"]  # two computations ...
    assert abs(fused["nll"] - generic["nll"]) < 1e-4  # ... of the same seeded bound, to float32 rounding


def test_fast_off_reaches_the_run_and_trains_through_autograd(tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "--data", "digits", "--encoder", "8", "--latent", "2", "--epochs", "1",
                    "--batch-size", "256", "--fast", "off", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    train = json.loads((out / "config.json").read_text())["train"]
    assert train["fast"] == "off"
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert record["training_step"] == "autograd"


def test_train_with_dequantize_needs_a_continuous_likelihood(tmp_path):
    result = CliRunner().invoke(main, ["train", "--dequantize", "uniform", "--out", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 2 and "--likelihood gaussian" in result.output


@pytest.mark.parametrize("suffix", [".png", ".npy", ".csv"])
def test_sample_writes_each_format(cli_run, tmp_path, suffix):
    out = tmp_path / f"s{suffix}"
    result = invoke("sample", cli_run, "-n", "6", "--out", out)
    assert result.exit_code == 0, result.output
    if suffix == ".npy":
        assert np.load(out).shape == (6, 1, 8, 8)  # images, as vae.sample gives them in Python
    elif suffix == ".csv":
        assert np.loadtxt(out, delimiter=",").shape == (6, 64)
    else:
        from PIL import Image

        assert Image.open(out).size[0] > 8


def test_one_image_file_is_encoded_and_scored_as_in_its_folder(cli_run, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(3):
        Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
    assert invoke("encode", cli_run, "--data", tmp_path / "images", "--out", tmp_path / "all.npy").exit_code == 0
    one = invoke("encode", cli_run, "--data", tmp_path / "images" / "1.png", "--out", tmp_path / "one.npy")
    assert one.exit_code == 0, one.output
    np.testing.assert_allclose(np.load(tmp_path / "one.npy"), np.load(tmp_path / "all.npy")[1:2], rtol=1e-6)  # a batch of one
    scored = invoke("score", cli_run, "--data", tmp_path / "images" / "1.png", "--out", tmp_path / "s.csv", "-q")
    assert scored.exit_code == 0, scored.output
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "file,score"
    refused = invoke("train", "--data", tmp_path / "images" / "1.png", "--out", tmp_path / "r", "-q")
    assert refused.exit_code == 2 and "one image is one example" in refused.output and not (tmp_path / "r").exists()


def test_encode_then_decode_round_trip(cli_run, tmp_path):
    z_path, x_path = tmp_path / "z.npy", tmp_path / "x.npy"
    assert invoke("encode", cli_run, "--out", z_path).exit_code == 0
    z = np.load(z_path)
    assert z.shape == (360, 2)
    assert invoke("decode", cli_run, "--latents", z_path, "--out", x_path).exit_code == 0
    assert np.load(x_path).shape == (360, 1, 8, 8)
    # the images read back as data of the run
    assert invoke("encode", cli_run, "--data", x_path, "--out", tmp_path / "z2.npy").exit_code == 0
    assert np.load(tmp_path / "z2.npy").shape == (360, 2)


def test_encode_and_reconstruct_read_a_data_file_whole_in_its_order(cli_run, tmp_path):
    import vaekit

    rows = np.random.default_rng(0).random((23, 64)).astype(np.float32)
    rows[5] = 0.0  # a row unlike the others, to see where it lands
    np.save(tmp_path / "x.npy", rows)
    assert invoke("encode", cli_run, "--data", tmp_path / "x.npy", "--out", tmp_path / "z.npy").exit_code == 0
    z = np.load(tmp_path / "z.npy")
    vae = vaekit.load(cli_run)
    assert vae.config.data.binarize == "none"  # the model sees the file's values as they are
    assert z.shape == (23, 2) and np.allclose(z, vae.encode(rows).numpy(), atol=1e-5)
    result = invoke("reconstruct", cli_run, "--data", tmp_path / "x.npy", "-n", "100", "--out", tmp_path / "r.npy")
    assert result.exit_code == 0 and "wrote 23 reconstructions" in result.output
    result = invoke("evaluate", cli_run, "--data", tmp_path / "x.npy", "--json")
    report = json.loads(result.output)
    assert report["n_examples"] == 23 and report["split"] == "all" and "probe" not in report
    assert report["recon_mse"] == pytest.approx(float(np.mean((vae.reconstruct(rows).numpy().reshape(23, -1) - rows) ** 2)), rel=1e-5)
    # asked for, a split of the file as training would have held it out
    assert invoke("encode", cli_run, "--data", tmp_path / "x.npy", "--split", "test", "--out", tmp_path / "t.npy").exit_code == 0
    assert len(np.load(tmp_path / "t.npy")) < 23


def test_a_file_of_one_row_is_encoded_scored_and_evaluated(cli_run, tmp_path):
    # A file given whole holds nothing out, so one row is enough (a split would need two).
    import vaekit

    row = np.random.default_rng(1).random((1, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", row)
    assert invoke("encode", cli_run, "--data", tmp_path / "x.npy", "--out", tmp_path / "z.npy").exit_code == 0
    assert np.allclose(np.load(tmp_path / "z.npy"), vaekit.load(cli_run).encode(row).numpy(), atol=1e-5)
    report = json.loads(invoke("evaluate", cli_run, "--data", tmp_path / "x.npy", "--json").output)
    assert report["n_examples"] == 1 and report["split"] == "all"
    result = invoke("reconstruct", cli_run, "--data", tmp_path / "x.npy", "--out", tmp_path / "r.npy")
    assert result.exit_code == 0 and "wrote 1 reconstruction to" in result.output
    np.savetxt(tmp_path / "x.csv", row, delimiter=",")
    result = invoke("score", cli_run, "--data", tmp_path / "x.csv", "--out", tmp_path / "s.csv", "--no-threshold", "-q")
    assert result.exit_code == 0 and len((tmp_path / "s.csv").read_text().splitlines()) == 2  # a header and the row
    # asked for, a split of it still needs two rows, and says so
    refused = invoke("encode", cli_run, "--data", tmp_path / "x.npy", "--split", "test", "--out", tmp_path / "t.npy")
    assert refused.exit_code == 2 and "need at least 2" in refused.output


def test_a_run_trained_on_a_relative_path_says_so_when_read_from_elsewhere(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    np.save(tmp_path / "here" / "x.npy", np.random.default_rng(0).random((40, 6)).astype(np.float32))
    monkeypatch.chdir(tmp_path / "here")
    assert invoke("train", "--data", "x.npy", "--likelihood", "gaussian", "--encoder", "8", "--latent", "2",
                  "--epochs", "1", "--out", tmp_path / "run", "-q").exit_code == 0  # fmt: skip
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args, fix in ((["encode", tmp_path / "run", "--out", tmp_path / "z.npy"], "run the command from that folder"),
                      (["resume", tmp_path / "run", "--epochs", "2"], "run `vaekit resume` from that folder")):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 2 and "training data 'x.npy' is a path relative to the folder" in result.stderr
        assert fix in result.stderr
    monkeypatch.chdir(tmp_path / "here")
    assert invoke("encode", tmp_path / "run", "--out", tmp_path / "z.npy").exit_code == 0


def test_reconstruct_and_info(cli_run, tmp_path):
    from PIL import Image

    assert invoke("reconstruct", cli_run, "-n", "8", "--out", tmp_path / "r.png").exit_code == 0
    picture = np.asarray(Image.open(tmp_path / "r.png").convert("L"))
    assert picture[0, 0] == 255 and picture[:, :40].min() < 100  # the white margin with the rows' labels
    info = json.loads(invoke("info", cli_run, "--json").output)
    assert info["epochs_trained"] == 2 and info["latent_dim"] == 2
    assert info["training"] == "fused fp32 (epochs 1-2)"
    assert info["best_by"] == "validation loss" and "best_val_loss" not in info
    history = [json.loads(line) for line in (Path(cli_run) / "metrics.jsonl").read_text().splitlines()]
    assert info["best_loss"] == min(m["val_loss"] for m in history)
    assert f"best_loss       {info['best_loss']:.4f} nats per example\n" in invoke("info", cli_run).output
    assert info["optimizer"] == "Adam lr 0.001 (constant), betas 0.9/0.999, eps 1e-08, batch 64"
    assert info["start"] == "torch's layer defaults"


def test_info_names_the_start_and_the_optimizer_a_run_was_given(tmp_path):
    run = tmp_path / "run"
    assert invoke("train", "--data", "digits", "--encoder", "16", "--latent", "2", "--epochs", "1", "--batch-size", "20",
                  "--init", "glorot-uniform", "--output-bias", "marginals", "--adam-beta1", "0.99", "--adam-eps", "5e-6",
                  "--lr-schedule", "burda", "--out", run, "-q").exit_code == 0  # fmt: skip
    info = json.loads(invoke("info", run, "--json").output)
    assert info["optimizer"] == "Adam lr 0.001 (burda), betas 0.99/0.999, eps 5e-06, batch 20"
    assert info["start"] == "glorot-uniform weights, decoder output bias from the data's marginals"
    assert "glorot-uniform weights, decoder output bias" in invoke("info", run).output


def test_info_says_the_best_epoch_was_chosen_by_the_training_loss_without_a_validation_split(tmp_path):
    run = tmp_path / "run"
    assert invoke("train", "--data", "digits", "--encoder", "16", "--latent", "2", "--epochs", "1", "--val-fraction", "0",
                  "--out", run, "-q").exit_code == 0  # fmt: skip
    info = json.loads(invoke("info", run, "--json").output)
    assert info["best_by"] == "training loss (no validation split)" and info["best_epoch"] == 1
    (only_epoch,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert info["best_loss"] == only_epoch["train_loss"]
    assert "training loss (no validation split)" in invoke("info", run).output


def test_resume_extends_a_finished_run(cli_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cli_run, copy)
    result = invoke("resume", copy, "--epochs", "3", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "trainer.json").read_text())["epoch"] == 3


def test_training_into_a_used_folder_needs_force(cli_run):
    result = CliRunner().invoke(main, ["train", "--out", str(cli_run), "-q"])
    assert result.exit_code == 2 and "--force" in result.output


def test_help_does_not_import_torch():
    code = "import sys; from vaekit.cli import main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_installed_command_runs_as_a_subprocess(cli_run):
    out = subprocess.run([sys.executable, "-m", "vaekit.cli", "info", str(cli_run)], capture_output=True, text=True)
    assert out.returncode == 0 and "latent_dim" in out.stdout


def test_evaluate_shows_progress_as_plain_lines_when_piped_and_none_when_quiet(binarized_copy):
    shown = CliRunner().invoke(main, ["evaluate", str(binarized_copy), "--k", "20", "--no-probe", "--json"])
    assert shown.exit_code == 0, shown.output
    assert "NLL, K=20: " in shown.stderr and "(100%)" in shown.stderr
    json.loads(shown.stdout)  # the report alone on stdout
    quiet = CliRunner().invoke(main, ["evaluate", str(binarized_copy), "--k", "20", "--no-probe", "-q"])
    assert "NLL, K=20" not in quiet.stderr


def test_the_epoch_line_calls_no_elbo_an_elbo(tmp_path):
    # A Bernoulli on grey levels is no likelihood of the data, as the report and curves say.
    args = ["train", "--data", "digits", "--encoder", "8", "--latent", "2", "--epochs", "1"]
    grey = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "grey")])
    binary = CliRunner().invoke(main, [*args, "--binarize", "dynamic", "--out", str(tmp_path / "binary")])
    assert grey.exit_code == binary.exit_code == 0
    assert "train_recon-kl=" in grey.stderr and "train_elbo=" not in grey.stderr
    assert "train_elbo=" in binary.stderr


@pytest.mark.parametrize("args, meant", [
    (["plot", "{run}", "reconstructions"], "(did you mean 'recon'?)"),
    (["plot", "{run}", "sample"], "(did you mean 'samples'?)"),
    (["evaluate", "{run}", "--which", "bets"], "(did you mean 'best'?)"),
])  # fmt: skip
def test_a_misspelt_choice_is_refused_naming_the_one_meant(cli_run, args, meant):
    result = invoke(*[arg.format(run=cli_run) for arg in args])
    assert result.exit_code == 2 and meant in result.output, result.output


def test_a_choice_like_nothing_known_is_refused_with_the_choices_alone(cli_run):
    result = invoke("plot", cli_run, "zzz")
    assert result.exit_code == 2 and "is not one of" in result.output and "did you mean" not in result.output


def test_training_on_a_table_says_where_its_nll_in_data_units_is(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal(50, 5):.2f},{'ab'[i % 2]}" for i in range(60)]
    (tmp_path / "t.csv").write_text("x,kind\n" + "\n".join(rows) + "\n")
    result = invoke("train", "--data", tmp_path / "t.csv", "--epochs", "1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "in the model's transformed units; `vaekit evaluate` gives the NLL in the data's own units" in result.output
