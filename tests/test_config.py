import pytest

from vaekit.config import RunConfig, validate
from vaekit.runtime.errors import ConfigError


def test_config_round_trips_through_json(tmp_path):
    config = RunConfig()
    config.model.encoder = [64, 32]
    config.train.seed = 7
    config.input_shape = [1, 8, 8]
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config


def test_yaml_config_is_read(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  latent_dim: 4\n  encoder: [32]\ntrain:\n  epochs: 3\n")
    config = RunConfig.load(tmp_path / "c.yaml")
    assert (config.model.latent_dim, config.model.encoder, config.train.epochs) == (4, [32], 3)


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
        ("model", "encoder", [0], "encoder"),
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
