import json

import pytest

from vaekit.config import RunConfig, set_option, validate
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
        ("model.beta", "an option of the objective now: --set objective.beta"),
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
        ("model", "latent_dim", "two", "latent_dim must be a positive integer"),
        ("model", "likelihood", "gaussian", "model.likelihood must be a mapping"),
        ("train", "fast", "turbo", "fast must be one of auto, off"),
        ("train", "epochs", 0, "epochs"),
        ("train", "lr", -1.0, "lr"),
        ("train", "batch_size", 0, "batch_size"),
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
