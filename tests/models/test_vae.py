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


# A family's overrides of encode/decode are the model: every pass goes through them.


class _SharpEncode:
    """Mixed into a built-in class: posterior means shifted by 1."""

    def encode(self, x, y=None):
        mu, logvar = super().encode(x, y)
        return mu + 1.0, logvar


class _SharpDecode:
    """Mixed into a built-in class: decodes to 3x the logits."""

    def decode(self, z, y=None):
        return 3.0 * super().decode(z, y)


class _Sharp(_SharpEncode, _SharpDecode):
    """Both overrides."""


def _small(family="vae", **options):
    config = _bound(RunConfig(), [1, 4, 4], "binary")
    config.model.name, config.model.net["encoder"], config.model.latent_dim = family, [8], 2
    config.model.options.update(options)
    torch.manual_seed(0)
    return create(config)


def _as(model, base):
    model.__class__ = type(f"Sharp{base.__name__}", (_Sharp, base), {})
    return model


@pytest.mark.parametrize("family", ["vae", "ae"])
def test_forward_encodes_and_decodes_through_a_familys_overrides(family):
    model = _as(_small(family), type(_small(family)))
    x = torch.bernoulli(torch.rand(6, 16))
    torch.manual_seed(1)
    out = model(x)
    mu, _ = model.encode(x)
    torch.testing.assert_close(out.mu, mu)
    torch.testing.assert_close(out.params, model.decode(out.z))
    torch.testing.assert_close(out.recon_log_prob, model.likelihood.log_prob(x, model.decode(out.z)))


def test_log_weights_encode_and_decode_through_a_familys_overrides():
    from vaekit.models import VAE

    model = _as(_small(), VAE)
    x = torch.bernoulli(torch.rand(6, 16))
    terms = model.log_weights(x, 3, generator=torch.Generator().manual_seed(2))
    mu, logvar = model.encode(x)
    eps = torch.randn((3, *mu.shape), generator=torch.Generator().manual_seed(2))
    z = mu + torch.exp(0.5 * logvar) * eps
    torch.testing.assert_close(terms.params, model.decode(z))
    torch.testing.assert_close(terms.log_likelihood, model.likelihood.log_prob(x, model.decode(z)))


def test_a_hierarchy_decodes_through_a_familys_decode():
    from vaekit.models import HierarchicalGaussianVAE

    plain, sharp = _small("hvae"), _small("hvae")
    sharp.__class__ = type("SharpDecode", (_SharpDecode, HierarchicalGaussianVAE), {})
    x = torch.bernoulli(torch.rand(6, 16))
    outs = []
    for model in (plain, sharp):
        torch.manual_seed(1)
        outs.append((model(x), model.log_weights(x, 2, generator=torch.Generator().manual_seed(0))))
    (out, terms), (sharp_out, sharp_terms) = outs
    torch.testing.assert_close(sharp_out.params, 3.0 * out.params)
    torch.testing.assert_close(sharp_terms.params, 3.0 * terms.params)
    torch.testing.assert_close(sharp_terms.log_likelihood, sharp.likelihood.log_prob(x, 3.0 * terms.params))


@pytest.mark.parametrize(
    "base, options, match",
    [
        ("vae", {"flow_steps": 1}, "overrides encode, but with model.flow_steps"),
        ("hvae", {}, "overrides encode, but a hierarchy draws z_1"),
        ("lvae", {"normalization": "none"}, "overrides encode, but a hierarchy draws z_1"),
    ],
)
def test_a_family_whose_encode_training_would_bypass_is_refused_when_built(base, options, match):
    from vaekit.models import MODELS

    built = MODELS.get_factory(base)
    cls = type("SharpEncode", (_SharpEncode, built), {"__module__": __name__})
    MODELS["test-sharp-encode"] = cls
    try:
        with pytest.raises(ConfigError, match=match):
            _small("test-sharp-encode", **options)
    finally:
        del MODELS["test-sharp-encode"]


def test_a_likelihood_not_summed_over_the_features_is_refused_by_every_base_pass():
    model = _small()
    model.likelihood.log_prob = lambda x, params: -torch.nn.functional.binary_cross_entropy_with_logits(
        params, x.expand_as(params), reduction="none"
    )
    x = torch.bernoulli(torch.rand(6, 16))
    with pytest.raises(ConfigError, match=r"log_prob returned shape \[6, 16\] where \[6\] was expected"):
        model(x)
    with pytest.raises(ConfigError, match=r"log_prob returned shape \[3, 6, 16\] where \[3, 6\] was expected"):
        model.log_weights(x, 3)
