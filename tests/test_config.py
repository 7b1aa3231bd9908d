import json

import pytest

from vaekit.config import RunConfig, apply_overrides, set_option, validate
from vaekit.runtime.errors import ConfigError


def test_config_round_trips_through_json(tmp_path):
    config = RunConfig()
    config.model.net["encoder"] = [64, 32]
    config.model.objective = {"name": "beta-elbo", "beta": 4.0}
    config.train.seed = 7
    config.input_shape = [1, 8, 8]
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config


def test_yaml_config_is_read(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "model:\n  latent_dim: 4\n  net: {name: mlp, encoder: [32]}\n  objective: {beta: 2}\ntrain:\n  epochs: 3\n"
    )
    config = RunConfig.load(tmp_path / "c.yaml")
    assert (config.model.latent_dim, config.model.net["encoder"], config.train.epochs) == (4, [32], 3)
    assert config.model.objective == {"beta": 2}


def test_a_config_json_of_the_flat_format_loads_with_each_option_in_its_piece(tmp_path):
    flat = {
        "model": {
            "name": "beta-vae", "latent_dim": 4, "encoder": [32], "decoder": None, "activation": "tanh",
            "net": "mlp", "channels": None, "normalization": "none", "likelihood": "gaussian", "sigma": None,
            "sigma_type": "per-example", "mixtures": None, "categorical_groups": None, "objective": None,
            "beta": 4.0, "warmup": "linear", "warmup_steps": 10, "free_bits": None, "iwae_k": None,
            "pseudo_inputs": None, "preset": None,
        },
        "train": {"fused_step": True, "flush_denormal": True, "fused_optimizer": True},
    }
    (tmp_path / "config.json").write_text(json.dumps(flat))
    config = RunConfig.load(tmp_path / "config.json")
    assert config.model.net == {"name": "mlp", "encoder": [32], "activation": "tanh", "normalization": "none"}
    assert config.model.likelihood == {"name": "gaussian", "sigma_type": "per-example"}
    assert config.model.objective == {"name": None, "beta": 4.0, "warmup": "linear", "warmup_steps": 10}
    assert config.model.prior == {"name": None}
    assert config.train.fast == "auto"


def test_a_speed_switch_turned_off_in_an_old_config_reads_as_fast_off():
    with pytest.warns(DeprecationWarning, match="fast: auto|off"):
        config = RunConfig.from_dict({"train": {"fused_step": False}})
    assert config.train.fast == "off"


@pytest.mark.parametrize(
    "path, value, where, expected",
    [
        ("objective.beta", 4.0, lambda c: c.model.objective["beta"], 4.0),
        ("likelihood.sigma", 0.1, lambda c: c.model.likelihood["sigma"], 0.1),
        ("net.encoder", [64], lambda c: c.model.net, {"name": "mlp", "encoder": [64]}),
        ("model.latent_dim", 3, lambda c: c.model.latent_dim, 3),
        ("model.temperature", 0.5, lambda c: c.model.options, {"temperature": 0.5}),
        ("train.lr", 0.01, lambda c: c.train.lr, 0.01),
    ],
)
def test_set_option_reaches_the_piece_or_field_its_path_names(path, value, where, expected):
    config = RunConfig()
    set_option(config, path, value)
    assert where(config) == expected


@pytest.mark.parametrize(
    "path, message",
    [
        ("beta", "expected SECTION.OPTION"),
        ("optimizer.lr", "unknown section 'optimizer'"),
        ("train.learning_rate", "train has no option 'learning_rate'"),
    ],
)
def test_set_option_refuses_a_path_it_cannot_place(path, message):
    with pytest.raises(ConfigError, match=message):
        set_option(RunConfig(), path, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("modle:\n  latent_dim: 4\n", "unknown key 'modle'"),
        ("model:\n  latnet_dim: 4\n", "unknown option"),
        ("model: [1, 2]\n", "expected a mapping"),
        ("model: {latent_dim: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_yaml_configs_name_the_problem(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        RunConfig.load(tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("model", "latent_dim", 0, "latent_dim"),
        ("model", "latent_dim", "two", r"model.latent_dim must be an integer, got 'two' \(str\)"),
        ("model", "likelihood", "gaussian", "model.likelihood must be a mapping"),
        ("train", "fast", "turbo", "fast must be one of auto, off"),
        ("train", "epochs", 0, "epochs"),
        ("train", "lr", -1.0, "lr"),
        ("train", "batch_size", 0, "batch_size"),
        ("train", "grad_clip", 0.0, r"grad_clip must be > 0 .*leave --grad-clip out"),
        ("train", "grad_clip", -1.0, "grad_clip must be > 0"),
        ("train", "grad_clip", float("nan"), "grad_clip must be > 0"),
        ("train", "device", "tpu", "device"),
        ("data", "test_fraction", 1.5, "test_fraction"),
        ("data", "binarize", "sometimes", "binarize"),
    ],
)
def test_invalid_values_are_refused_with_their_name(section, key, value, message):
    config = RunConfig()
    setattr(getattr(config, section), key, value)
    with pytest.raises(ConfigError, match=message):
        validate(config)


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  latent_dim: two\n", "model.latent_dim must be an integer, got 'two' (str)"),
        ("model:\n  latent_dim: true\n", "model.latent_dim must be an integer, got True (bool)"),
        ("model:\n  name: {vae: 1}\n", "model.name must be a string, got {'vae': 1} (dict)"),
        ("model:\n  net: {name: {mlp: 1}}\n", "model.net.name must be a net name (a string) or null, got {'mlp': 1}"),
        ("model:\n  net: 64\n", "model.net must be a mapping like {name: ..., option: value}, got 64 (int)"),
        ("model:\n  options: [1]\n", "model.options must be a mapping, got [1] (list)"),
        ("data:\n  name: [digits]\n", "data.name must be a string, got ['digits'] (list)"),
        ("data:\n  limit: 1.5\n", "data.limit must be an integer or null, got 1.5 (float)"),
        ("data:\n  download: 'yes'\n", "data.download must be true or false, got 'yes' (str)"),
        ("train:\n  epochs: ten\n", "train.epochs must be an integer, got 'ten' (str)"),
        ("train:\n  lr: [1]\n", "train.lr must be a number, got [1] (list)"),
        ("train:\n  grad_clip: 'big'\n", "train.grad_clip must be a number or null, got 'big' (str)"),
        ("input_shape: [1, x]\n", "input_shape must be a list of integers or null, got [1, 'x'] (list)"),
        ("version: 2\n", "version must be a string, got 2 (int)"),
    ],
)
def test_values_of_the_wrong_type_name_the_key_the_type_and_the_value(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        RunConfig.load(tmp_path / "bad.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'bad.yaml'}: {message}")


def test_the_schema_check_runs_in_validate_too():
    config = RunConfig()
    config.train.epochs = "ten"
    with pytest.raises(ConfigError, match=r"^train.epochs must be an integer, got 'ten' \(str\)$"):
        validate(config)


def test_numbers_of_the_right_kind_pass_the_schema_check(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  lr: 3e-4\n  grad_clip: 1\ndata:\n  limit: null\n  image_size: 28\n")
    config = RunConfig.load(tmp_path / "c.yaml")  # an integer is a number; YAML's 3e-4 is one too
    assert (config.train.lr, config.train.grad_clip, config.data.image_size) == (3e-4, 1, 28)
    validate(config)


def test_a_config_json_that_is_not_text_is_refused_by_name(tmp_path):
    import pickle

    (tmp_path / "config.json").write_bytes(pickle.dumps({"model": {"latent_dim": 2}}))
    with pytest.raises(ConfigError, match=r"config.json: not a text file .*JSON or YAML text"):
        RunConfig.load(tmp_path / "config.json")


def test_a_config_from_a_newer_vaekit_loads_with_a_warning_naming_both_versions():
    from vaekit import __version__
    from vaekit.runtime.errors import VaekitWarning

    with pytest.warns(VaekitWarning, match=rf"written by vaekit 99.0.0, newer than this vaekit {__version__}"):
        config = RunConfig.from_dict({"version": "99.0.0", "train": {"epochs": 3}}, source="config.json")
    assert config.train.epochs == 3


def test_a_config_from_this_or_an_older_vaekit_loads_silently():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RunConfig.from_dict({"version": "0.0.1"})
        RunConfig.from_dict(RunConfig().to_dict())


def test_a_config_from_a_newer_vaekit_with_keys_this_one_does_not_know_is_refused():
    raw = {"version": "99.0.0", "train": {"epochs": 3, "ema": 0.99}, "tokenizer": "bpe"}
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(raw, source="config.json")
    message = str(info.value)
    assert "config.json was written by vaekit 99.0.0" in message
    assert "settings this version does not know: train.ema, tokenizer" in message
    assert "upgrade vaekit" in message


@pytest.mark.parametrize(
    "version, than, newer",
    [("0.2.0", "0.1.0", True), ("0.1.0", "0.1.0", False), ("0.1", "0.1.0", False), ("1.0.0rc1", "0.9", True),
     ("0.1.0.dev3", "0.1.0", False), ("0.10.0", "0.9.0", True), ("unknown", "0.1.0", False)],
)  # fmt: skip
def test_versions_compare_by_their_release_numbers(version, than, newer):
    from vaekit.runtime.versions import is_newer

    assert is_newer(version, than) is newer


def test_train_help_shows_each_config_default():
    from click.testing import CliRunner

    from vaekit.cli import main
    from vaekit.config import DataConfig, TrainConfig

    text = " ".join(CliRunner().invoke(main, ["train", "--help"], terminal_width=400).output.split())
    t = TrainConfig()
    for flag, default in [("--epochs", t.epochs), ("--batch-size", t.batch_size), ("--lr", t.lr), ("--seed", t.seed)]:
        assert f"{flag} " in text and f"[default: {default}]" in text.split(f"{flag} ", 1)[1].split(" --", 1)[0]
    assert "[default: 0.001]" in text and f"[default: {DataConfig().binarize}]" in text
    assert "[default: no-download]" in text


def test_defaults_in_the_help_do_not_override_a_config_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from vaekit import api
    from vaekit.cli import main

    seen = []

    def fake_train(cfg, **kwargs):
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(api, "train", fake_train)
    (tmp_path / "c.yaml").write_text("train:\n  epochs: 3\n  lr: 3e-4\n  seed: 5\n  batch_size: 7\n")
    CliRunner().invoke(main, ["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r")])
    t = seen[0].train
    assert (t.epochs, t.lr, t.seed, t.batch_size) == (3, 3e-4, 5, 7)


def test_the_cli_shows_a_newer_versions_config_as_one_warning_line(digits_run, tmp_path):
    import shutil

    from click.testing import CliRunner

    from vaekit.cli import main

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    raw = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**raw, "version": "99.0.0"}))
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 0
    assert "warning: " in result.output and "was written by vaekit 99.0.0, newer than this vaekit" in result.output
    assert "VaekitWarning" not in result.output


def test_an_unknown_piece_option_of_a_newer_config_says_which_version_wrote_it():
    from vaekit.training.build import build_model

    config = RunConfig()
    config.input_shape, config.value_range, config.levels, config.version = [5], "real", None, "99.0.0"
    config.model.net = {"name": "mlp", "encoder": [4], "dropout": 0.1}
    with pytest.raises(ConfigError, match=r"takes no option 'dropout'.*written by vaekit 99.0.0, newer than this"):
        build_model(config)


def test_naming_another_piece_starts_it_afresh_and_the_same_piece_keeps_its_options():
    config = RunConfig.from_dict({"model": {"likelihood": {"name": "gaussian", "sigma": 0.1}}})
    apply_overrides(config, "model", likelihood="gaussian")
    assert config.model.likelihood == {"name": "gaussian", "sigma": 0.1}
    apply_overrides(config, "model", likelihood="bernoulli")
    assert config.model.likelihood == {"name": "bernoulli"}
    unnamed = RunConfig.from_dict({"model": {"likelihood": {"sigma": 0.1}}})
    apply_overrides(unnamed, "model", likelihood="gaussian")
    assert unnamed.model.likelihood == {"sigma": 0.1, "name": "gaussian"}


def test_set_option_null_clears_a_field():
    config = RunConfig.from_dict({"train": {"grad_clip": 1.0}, "data": {"limit": 100}})
    set_option(config, "train.grad_clip", None)
    set_option(config, "data.limit", None)
    assert config.train.grad_clip is None and config.data.limit is None


def test_options_the_run_leaves_unused_are_named():
    from vaekit.config import unused_options

    cfg = RunConfig()
    assert unused_options(cfg) == []
    cfg.train.num_workers, cfg.data.shuffle, cfg.data.shuffle_window = 2, "full", 7
    said = unused_options(cfg)
    assert len(said) == 2 and "num_workers 2 is unused" in said[0] and "shuffle_window 7 is unused" in said[1]
    cfg.train.data_loading = "streaming"
    assert len(unused_options(cfg)) == 1


def test_a_familys_own_option_is_set_and_a_pieces_is_named_where_it_went():
    from vaekit.training.build import check_family_options

    ladder = RunConfig()
    ladder.model.name = "lvae"
    set_option(ladder, "model.normalization", "none")  # lvae's own option
    assert ladder.model.options == {"normalization": "none"}
    check_family_options(ladder)
    plain = RunConfig()
    set_option(plain, "model.beta", 4)
    with pytest.raises(ConfigError, match=r"model 'vae' takes no option 'beta': it is an option of the objective now: "
                                          r"--set objective.beta"):  # fmt: skip
        check_family_options(plain)
