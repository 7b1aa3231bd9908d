"""IAF posteriors (Kingma et al. 2016): the masked nets are autoregressive, the log-determinant is
autograd's, and the flow reaches the ELBO, the IWAE bound, the NLL and the checkpoints."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

import vaekit
from vaekit.config import RunConfig
from vaekit.evaluation.iwae import chunk_log_weights, log_likelihood_bound
from vaekit.fast.fused_chunk import fused_chunk_unsupported
from vaekit.fast.fused_step import fused_step_unsupported
from vaekit.nets.iaf import IAF, IAFStep
from vaekit.objectives import ELBOObjective
from vaekit.runtime.errors import ConfigError
from vaekit.training.build import build_model


def small(family: str = "vae", latent: int = 4, num_classes: int | None = None, **options) -> torch.nn.Module:
    config = RunConfig()
    config.model.name, config.model.latent_dim = family, latent
    config.model.net = {"name": "mlp", "encoder": [16]}
    config.model.options.update(options)
    config.input_shape, config.value_range, config.levels, config.num_classes = [16], "binary", 2, num_classes
    torch.manual_seed(0)
    return build_model(config)


def binary(n: int = 5, d: int = 16) -> torch.Tensor:
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(1)) > 0.5).float()


@pytest.mark.parametrize("reverse", [False, True])
def test_each_output_of_a_step_sees_only_earlier_inputs(reverse):
    torch.manual_seed(0)
    step = IAFStep(5, 3, [12, 12], reverse=reverse).double()
    z, h = torch.randn(5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    jac_m, jac_s = torch.autograd.functional.jacobian(lambda v: step.net(v, h), z)
    order = torch.arange(5, 0, -1) if reverse else torch.arange(1, 6)
    allowed = order[None, :] < order[:, None]  # output d may depend on input j when j comes first
    assert (jac_m[~allowed] == 0).all() and (jac_s[~allowed] == 0).all()
    assert (jac_m[allowed] != 0).any()
    # ... and the context reaches every output
    jac_h = torch.autograd.functional.jacobian(lambda c: step.net(z, c)[0], h)
    assert (jac_h.abs().sum(1) > 0).all()


def test_the_flows_log_determinant_is_autograds():
    torch.manual_seed(0)
    flow = IAF(3, 2, steps=3, hidden=[8]).double()
    for p in flow.parameters():  # away from the near-identity start
        p.data.normal_(0, 0.7)
    z0, h = torch.randn(3, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow(v, h)[0], z0)
    sign, log_abs_det = torch.linalg.slogdet(jacobian)
    _, log_det = flow(z0, h)
    assert sign > 0
    torch.testing.assert_close(log_det.sum(), log_abs_det, rtol=0, atol=1e-10)


def test_a_flow_vae_meets_the_interface_and_its_elbo_is_the_one_sample_bound():
    model = small(flow_steps=2).double()
    x = binary(6).double()
    assert model.own_log_weights and model.flow is not None
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 4)
    torch.manual_seed(3)
    out = model(x)
    torch.manual_seed(3)
    weights = model.log_weights(x, 1)
    torch.testing.assert_close(weights.log_likelihood[0], out.recon_log_prob, rtol=0, atol=1e-12)
    torch.testing.assert_close(weights.log_weights[0], out.recon_log_prob - out.kl, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.kl_per_dim.sum(-1), out.kl)  # N(0, I) factorises
    # the flow is in the bound: without it the same draws give other weights
    flow, model.flow = model.flow, None
    torch.manual_seed(3)
    assert not torch.allclose(model.log_weights(x, 1).log_weights, weights.log_weights)
    model.flow = flow


def test_without_a_flow_log_weights_are_the_generic_chunks():
    model = small().double()
    assert model.flow is None and not model.own_log_weights
    assert not any(name.startswith("flow") for name in model.state_dict())
    x = binary(5).double()
    weights = model.log_weights(x, 7, generator=torch.Generator().manual_seed(4))
    mu, logvar = model.encode(x)
    eps = torch.randn((7, 5, 4), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    generic = chunk_log_weights(model, x, mu, logvar, torch.exp(0.5 * logvar), eps)
    torch.testing.assert_close(weights.log_weights, generic, rtol=0, atol=1e-10)


def test_the_fused_paths_refuse_a_flow_posterior_and_still_take_the_plain_vae():
    plain, flowed = small(), small(flow_steps=1)
    assert fused_chunk_unsupported(plain) is None
    assert "own importance weights" in fused_chunk_unsupported(flowed)
    reason = fused_step_unsupported(flowed, ELBOObjective())
    if fused_step_unsupported(plain, ELBOObjective()) is None:  # torch has the kernels
        assert "IAF posterior" in reason
    if fused_step_unsupported(small("hvae"), ELBOObjective()) is None:
        assert "IAF posterior" in fused_step_unsupported(small("hvae", flow_steps=1), ELBOObjective())


def test_a_hierarchy_with_flows_puts_every_layers_log_determinant_in_the_bound():
    model = small("hvae", latent=4, flow_steps=2, upper_latents=[3]).double()
    assert model.flow is not None and len(model.upper_flows) == 1
    x = binary(5).double()
    torch.manual_seed(8)
    out = model(x)
    torch.manual_seed(8)
    weights = model.log_weights(x, 1)
    torch.testing.assert_close(weights.log_weights[0], out.recon_log_prob - out.kl, rtol=0, atol=1e-10)
    torch.testing.assert_close(weights.kl_layers[0], out.kl_layers, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "family, options", [("vae", {"flow_steps": 2}), ("hvae", {"flow_steps": 1, "upper_latents": [3]}), ("vae", {})]
)
def test_a_posterior_draw_is_the_draw_the_bound_takes_through_the_flow(family, options):
    model = small(family, **options).double().eval()
    x = binary(5).double()
    torch.manual_seed(3)
    z = model.sample_posterior(x)
    torch.manual_seed(3)
    torch.testing.assert_close(z, model(x).z, rtol=0, atol=0)
    if options.get("flow_steps"):  # not a draw from the flow's Gaussian summary that encode gives
        from vaekit.distributions import reparameterize

        torch.manual_seed(3)
        assert not torch.allclose(z, reparameterize(*model.encode(x)))


def test_a_conditional_vae_takes_a_flow_with_its_labels():
    model = small("cvae", num_classes=3, flow_steps=1)
    x, y = binary(4), torch.tensor([0, 2, 1, 2])
    assert model(x, y).kl.shape == (4,)
    assert model.log_weights(x, 5, y).log_weights.shape == (5, 4)
    bound = log_likelihood_bound(model, x, 6, y=y, generator=torch.Generator().manual_seed(0))
    assert bound.shape == (4,) and torch.isfinite(bound).all()


@pytest.mark.parametrize(
    "family, options, message",
    [
        (
            "ae",
            {"flow_steps": 2},
            "flow_steps needs a Gaussian posterior to transform, but this model is deterministic",
        ),
        ("vae", {"flow_hidden": [8]}, "flow_hidden needs flow_steps >= 1"),
        ("vae", {"flow_steps": -1}, "flow_steps must be a whole number >= 0"),
        ("vae", {"flow_steps": 1, "flow_hidden": [8, 0]}, "flow_hidden must be positive widths"),
        ("vae", {"flow_steps": 1, "flow_hidden": []}, "flow_hidden needs at least one hidden layer"),
    ],
)
def test_a_flow_that_cannot_apply_is_refused_naming_the_fix(family, options, message):
    with pytest.raises(ConfigError, match=message):
        small(family, **options)


def test_a_flow_vae_trains_evaluates_and_reloads_to_identical_outputs(tmp_path):
    out = tmp_path / "iaf"
    trained = vaekit.train(
        data="digits", binarize="dynamic", encoder=[32], latent_dim=4, epochs=2, batch_size=64, out=out,
        progress="quiet", options={"flow_steps": 2},
    )  # fmt: skip
    loaded = vaekit.load(out)
    assert loaded.config.model.options == {"flow_steps": 2, "flow_hidden": None}  # the default recorded beside it
    x, _ = vaekit.api.resolve_eval_data(loaded, None, "test")
    for a, b in ((trained.encode(x[:9]), loaded.encode(x[:9])), (trained.sample(3), loaded.sample(3))):
        assert a.shape == b.shape
    torch.testing.assert_close(trained.encode(x[:9]), loaded.encode(x[:9]), rtol=0, atol=0)
    torch.manual_seed(5)
    drawn = loaded.encode(x[:9], sample=True)
    torch.manual_seed(5)
    torch.testing.assert_close(drawn, loaded.model.sample_posterior(x[:9]), rtol=0, atol=0)
    report = vaekit.evaluate(loaded, k=10)
    assert report["nll_path"] == "generic" and report["nll"] > 0


def test_building_a_flow_model_on_the_meta_device_does_not_import_the_compiler_stack():
    # Every train and resume builds the model on the meta device first; the masks' arithmetic
    # there would import torch._dynamo (seconds at start-up).
    script = textwrap.dedent("""
        import sys
        from vaekit.api import build_config
        from vaekit.training.build import meta_model
        from vaekit.training.run_data import bind_to_data, load_bundle
        config = build_config(data="digits", encoder=[16], latent_dim=4, options={"flow_steps": 2})
        bind_to_data(config, load_bundle(config))
        assert meta_model(config) is not None
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
