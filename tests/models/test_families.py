"""Every registered family: trains on digits, round-trips through the run folder, and meets
the model interface contract shared with evaluation, viz and serving."""

import pytest
import torch

import vaekit
from vaekit.config import RunConfig, apply_overrides
from vaekit.models import available_models
from vaekit.models.vae import VAEOutput
from vaekit.training.build import build_model as create

FAMILIES = ["vae", "ae", "beta-vae", "iwae", "cvae", "vamp"]
SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 128, "progress": "quiet"}


def test_every_family_of_the_issue_is_registered():
    assert set(FAMILIES) <= set(available_models())


def _outputs(vae: vaekit.TrainedVAE, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    labels = y if vae.conditional else None
    torch.manual_seed(3)
    out = vae.model(x, *((y,) if vae.conditional else ()))
    return [
        vae.encode(x, labels=labels),
        vae.reconstruct(x, labels=labels),
        vae.sample(7),
        out.params,
        out.recon_log_prob,
        out.kl,
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_one_epoch_saves_and_reloads_to_identical_outputs(tmp_path, family):
    trained = vaekit.train(model=family, epochs=1, out=tmp_path / family, **SMALL)
    loaded = vaekit.load(tmp_path / family)
    assert type(loaded.model) is type(trained.model)
    x, y = vaekit.api.resolve_eval_data(loaded, None, "test")
    x, y = x[:20], y[:20]
    with torch.no_grad():
        for a, b in zip(_outputs(trained, x, y), _outputs(loaded, x, y), strict=True):
            assert torch.equal(a, b)
    report = vaekit.evaluate(loaded)
    assert report["variational"] is (family != "ae")
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


def _bound_config(family: str, **model_options) -> RunConfig:
    config = RunConfig()
    config.model.name = family
    config.model.net["encoder"] = [8]
    config.model.latent_dim = 3
    apply_overrides(config, "model", **model_options)
    config.input_shape, config.value_range, config.levels, config.num_classes = [1, 4, 4], "unit", 17, 10
    return config


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_family_meets_the_model_interface_contract(family, net):
    torch.manual_seed(0)
    model = create(_bound_config(family, net=net))
    B, S, L, D = 5, 4, 3, 16
    assert (model.latent_dim, model.input_dim) == (L, D)
    x = torch.rand(B, D)
    y = torch.arange(B)
    extra = (y,) if getattr(model, "conditional", False) else ()
    mu, logvar = model.encode(x, *extra)
    assert mu.shape == logvar.shape == (B, L)
    z = torch.randn(S, B, L)  # leading sample dimension
    params = model.decode(z, *extra)
    assert params.shape[:-1] == (S, B) and params.shape[-1] == D * model.likelihood.params_per_dim
    assert model.likelihood.log_prob(x, params).shape == (S, B)
    assert model.likelihood.mean(params).shape == model.likelihood.sample(params).shape == (S, B, D)
    assert model.prior.log_prob(z).shape == (S, B)
    assert model.prior.sample(6, device="cpu", temperature=0.5).shape == (6, L)
    out = model(x, *extra)
    assert isinstance(out, VAEOutput)
    assert out.recon_log_prob.shape == out.kl.shape == (B,)
    assert out.kl_per_dim.shape == out.z.shape == (B, L)
    assert getattr(model, "variational", True) is (family != "ae")


def test_cvae_accepts_condition_vectors_as_well_as_labels():
    model = create(_bound_config("cvae"))
    z = torch.randn(2, 3)
    one_hot = torch.nn.functional.one_hot(torch.tensor([3, 7]), 10).float()
    torch.testing.assert_close(model.decode(z, torch.tensor([3, 7])), model.decode(z, one_hot))
    halfway = 0.5 * one_hot[:1] + 0.5 * one_hot[1:]
    assert model.decode(z[:1], halfway).shape == (1, 16)


def test_cvae_refuses_unlabelled_data_with_a_fix():
    config = _bound_config("cvae")
    config.num_classes = None
    with pytest.raises(vaekit.runtime.errors.ConfigError, match="labelled"):
        create(config)


def test_autoencoder_codes_are_point_masses():
    model = create(_bound_config("ae"))
    x = torch.rand(4, 16)
    mu, logvar = model.encode(x)
    assert torch.isneginf(logvar).all()
    out = model(x)
    torch.testing.assert_close(out.z, mu)  # no noise: z is the code
    assert (out.kl == 0).all()


@pytest.mark.parametrize(
    "family, option, value, message",
    [
        ("vae", "beta", 4.0, "objective 'elbo' .* takes no option 'beta'; its options are: none. 'beta' is an "
                             "option of objective 'beta-elbo': choose one with --objective beta-elbo"),
        ("vae", "k", 10, "objective 'elbo' .* takes no option 'k'.* an option of objective 'elbo-k' and 'iwae'"),
        ("iwae", "free_bits", 0.5, "objective 'iwae' .* takes no option 'free_bits'; its options are: k"),
    ],
)
def test_options_of_another_familys_objective_are_refused_not_ignored(tmp_path, family, option, value, message):
    with pytest.raises(vaekit.runtime.errors.ConfigError, match=message):
        vaekit.train(model=family, epochs=1, out=tmp_path / "r", objective={option: value}, **SMALL)


def test_pseudo_inputs_apply_to_vamp_only():
    with pytest.raises(vaekit.runtime.errors.ConfigError, match="prior 'normal' .* takes no option 'pseudo_inputs'"):
        create(_bound_config("vae", prior={"pseudo_inputs": 5}))
    assert create(_bound_config("vamp", prior={"pseudo_inputs": 5})).prior.pseudo_inputs.shape == (5, 16)
