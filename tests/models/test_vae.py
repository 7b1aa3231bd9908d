import pytest
import torch

from vaekit.config import RunConfig, apply_preset
from vaekit.models import available_models
from vaekit.runtime.errors import ConfigError
from vaekit.training.build import build_model as create


def _bound(config: RunConfig, shape, value_range) -> RunConfig:
    config.input_shape = list(shape)
    config.value_range = value_range
    return config


def test_seed_preset_builds_exactly_the_founding_network():
    config = RunConfig()
    apply_preset(config, "seed")
    model = create(_bound(config, [5], "real"))
    linear_shapes = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    # encoder 5->4->3, heads 3->3 (mu) and 3->3 (logvar), decoder 3->3->4->5
    assert linear_shapes == [(5, 4), (4, 3), (3, 3), (3, 3), (3, 3), (3, 4), (4, 5)]
    assert model.likelihood.name == "gaussian"


def test_forward_returns_per_example_terms_in_nats():
    torch.manual_seed(0)
    config = _bound(RunConfig(), [1, 4, 4], "unit")
    config.model.net["encoder"] = [8]
    config.model.latent_dim = 2
    model = create(config)
    x = torch.rand(6, 16)
    out = model(x)
    assert out.recon_log_prob.shape == out.kl.shape == (6,)
    assert out.kl_per_dim.shape == (6, 2)
    assert (out.kl >= 0).all()
    torch.testing.assert_close(out.kl, out.kl_per_dim.sum(-1))


def test_default_likelihood_follows_the_data():
    assert create(_bound(RunConfig(), [3], "real")).likelihood.name == "gaussian"
    assert create(_bound(RunConfig(), [3], "binary")).likelihood.name == "bernoulli"


def test_registry_knows_vae_and_refuses_unknown_names():
    assert "vae" in available_models()
    config = _bound(RunConfig(), [3], "real")
    config.model.name = "flow-thing"
    with pytest.raises(ConfigError, match="choose one of"):
        create(config)


def test_sample_returns_likelihood_means_of_the_right_shape():
    model = create(_bound(RunConfig(), [1, 2, 2], "unit"))
    xs = model.sample(5)
    assert xs.shape == (5, 4)
    assert ((xs >= 0) & (xs <= 1)).all()
