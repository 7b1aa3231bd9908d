"""The fused training step computes autograd's loss and gradients, and runs only where it applies."""

import json

import pytest
import torch

import vaekit
from vaekit import fast, objectives
from vaekit.fast import dense_passes, kernels
from vaekit.fast.fused_step import FusedTrainingStep, FusedVAEStep, fused_step_unsupported
from vaekit.nets.mlp import GaussianEncoder, MLPDecoder
from vaekit.training.step import AutogradStep

from .small_models import autograd_and_fused, iwae_gradients_under_roulette, small_model

SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 64, "progress": "quiet"}


def _autograd_and_fused(model, objective, x, step=0):
    """Return (autograd, fused) as (StepLoss, {name: grad}) from the same noise."""
    return autograd_and_fused(FusedVAEStep, model, objective, x, step)


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "gelu", "silu", "leaky_relu"])
@pytest.mark.parametrize("binary", [True, False])
def test_gradients_match_autograd_for_every_activation(activation, binary):
    model, objective = small_model(activation=activation, encoder=(12, 8), decoder=(7, 9, 11), likelihood="bernoulli")
    x = torch.rand(6, 20, dtype=torch.float64)
    x = torch.bernoulli(x) if binary else x
    (ref, ref_grads), (got, got_grads) = _autograd_and_fused(model, objective, x)
    assert torch.allclose(got.loss, ref.loss.detach(), rtol=1e-12)
    assert torch.allclose(got.recon, ref.recon.detach(), rtol=1e-12)
    assert torch.allclose(got.kl, ref.kl.detach(), rtol=1e-12)
    assert ref_grads.keys() == got_grads.keys()
    for name in ref_grads:
        assert torch.allclose(got_grads[name], ref_grads[name], rtol=1e-10, atol=1e-13), name


@pytest.mark.parametrize("step", [0, 3, 50])
def test_beta_elbo_with_warmup_weights_the_kl_like_autograd(step):
    beta = {"name": "beta-elbo", "beta": 4.0, "warmup": "linear", "warmup_steps": 10}
    model, objective = small_model("beta-vae", objective=beta)
    assert fused_step_unsupported(model, objective) is None
    x = torch.bernoulli(torch.rand(5, 20, dtype=torch.float64))
    (ref, ref_grads), (got, got_grads) = _autograd_and_fused(model, objective, x, step)
    assert torch.allclose(got.loss, ref.loss.detach(), rtol=1e-12)
    for name in ref_grads:
        assert torch.allclose(got_grads[name], ref_grads[name], rtol=1e-10, atol=1e-13), name


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
@pytest.mark.parametrize("objective_name, k", [("iwae", 1), ("iwae", 4), ("elbo-k", 1), ("elbo-k", 3)])
def test_multi_sample_objectives_match_autograd(activation, objective_name, k):
    model, objective = small_model(
        activation=activation, encoder=(12, 8), decoder=(7, 9), likelihood="bernoulli", objective={"name": objective_name, "k": k}
    )
    assert fused_step_unsupported(model, objective) is None
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    (ref, ref_grads), (got, got_grads) = _autograd_and_fused(model, objective, x)
    assert torch.allclose(got.loss, ref.loss.detach(), rtol=1e-12)
    assert torch.allclose(got.recon, ref.recon.detach(), rtol=1e-12)
    assert torch.allclose(got.kl, ref.kl.detach(), rtol=1e-10)
    for name in ref_grads:
        assert torch.allclose(got_grads[name], ref_grads[name], rtol=1e-10, atol=1e-13), name


def test_iwae_weights_the_samples_unlike_the_k_sample_elbo():
    # Same draws, same model: if the fused IWAE fell back to equal weights its gradients would be the
    # k-sample ELBO's, which the autograd IWAE's are not.
    grads = {}
    for name in ("iwae", "elbo-k"):
        model, objective = small_model(likelihood="bernoulli", objective={"name": name, "k": 5})
        x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
        torch.manual_seed(1)
        FusedVAEStep(model, objective)(x)
        grads[name] = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert not torch.allclose(grads["iwae"], grads["elbo-k"], rtol=1e-3)


def test_the_iwae_model_trains_through_the_fused_step(tmp_path):
    out = tmp_path / "run"
    vaekit.train(**{**SMALL, "model": "iwae", "epochs": 1}, out=out)
    assert {r["training_step"] for r in _records(out) if "training_step" in r} == {"fused"}


def test_repeated_steps_reuse_gradient_buffers_and_stay_exact():
    model, objective = small_model()
    step = FusedVAEStep(model, objective)
    x = torch.rand(4, 20, dtype=torch.float64)
    torch.manual_seed(2)
    step(torch.rand(4, 20, dtype=torch.float64))  # fills the buffers with another batch's gradients
    torch.manual_seed(3)
    step(x)
    got = {name: p.grad.clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = None
    torch.manual_seed(3)
    objectives.training_loss(objective, model, x).loss.backward()
    for name, p in model.named_parameters():
        assert torch.allclose(got[name], p.grad, rtol=1e-10, atol=1e-13), name


@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_fused_and_autograd_training_steps_clip_and_step_alike(grad_clip):
    results = []
    for make_step in ("fused", "autograd"):
        model, objective = small_model(likelihood="bernoulli")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        if make_step == "fused":
            step = fast.training_step_for(model, objective, optimizer, grad_clip=grad_clip)
            assert isinstance(step, FusedTrainingStep) and step.name == "fused"
        else:
            step = AutogradStep(model, objective, optimizer, device=torch.device("cpu"), grad_clip=grad_clip)
        torch.manual_seed(4)
        losses = [step(torch.bernoulli(torch.rand(8, 20, dtype=torch.float64)), None, i).loss for i in range(3)]
        results.append((losses, [p.detach().clone() for p in model.parameters()]))
    (fused_losses, fused_params), (ref_losses, ref_params) = results
    assert torch.allclose(torch.stack(fused_losses), torch.stack(ref_losses), rtol=1e-12)
    for got, ref in zip(fused_params, ref_params, strict=True):
        assert torch.allclose(got, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "kind, options, reason",
    [
        ("model", {"name": "ae"}, "not a built-in"),
        ("model", {"name": "cvae"}, "not a built-in"),
        ("model", {"name": "vamp"}, "prior"),
        ("model", {"name": "beta-vae", "objective": {"name": "beta-elbo", "free_bits": 0.5}}, "free bits"),
        ("model", {"likelihood": "gaussian"}, "likelihood"),
        ("model", {"likelihood": "continuous-bernoulli"}, "likelihood"),
        ("model", {"normalization": "layer"}, "LayerNorm"),
        ("run", {"precision": "bf16"}, "precision bf16"),
        ("run", {"compile": True}, "--compile"),
    ],
)
def test_runs_the_fused_step_does_not_cover_are_named(kind, options, reason):
    model, objective = small_model(**(options if kind == "model" else {}))
    run_options = options if kind == "run" else {}
    why = fused_step_unsupported(model, objective, **run_options)
    assert why is not None and reason in why
    optimizer = torch.optim.Adam(model.parameters())
    assert fast.training_step_for(model, objective, optimizer, **run_options) is None
    if kind == "model":
        with pytest.raises(ValueError, match="cannot train"):
            FusedVAEStep(model, objective)


def test_fast_off_or_a_torch_without_the_kernels_gives_no_fused_step(monkeypatch):
    model, objective = small_model()
    optimizer = torch.optim.Adam(model.parameters())
    assert fast.training_step_for(model, objective, optimizer) is not None
    assert fast.training_step_for(model, objective, optimizer, mode="off") is None
    with pytest.raises(ValueError, match="auto, off"):
        fast.training_step_for(model, objective, optimizer, mode="fused")
    monkeypatch.setattr(kernels, "private_kernels_available", lambda: False)
    assert "lacks" in fused_step_unsupported(model, objective)
    assert fast.training_step_for(model, objective, optimizer) is None


def test_nets_are_read_only_through_their_public_layer_accessors(monkeypatch):
    # Renaming the MLP nets' private fields (and updating their accessors) must not break fast/.
    model, objective = small_model()
    x = torch.bernoulli(torch.rand(5, 20, dtype=torch.float64))
    torch.manual_seed(1)
    expected = FusedVAEStep(model, objective)(x).loss
    encoder, decoder = model.encoder, model.decoder
    encoder.add_module("renamed_body", encoder.body)
    decoder.add_module("renamed_net", decoder.net)
    del encoder.body, decoder.net
    monkeypatch.setattr(GaussianEncoder, "hidden_layers", property(lambda self: self.renamed_body.layers))
    monkeypatch.setattr(MLPDecoder, "layers", property(lambda self: self.renamed_net.layers))
    assert fused_step_unsupported(model, objective) is None
    torch.manual_seed(1)
    assert torch.equal(FusedVAEStep(model, objective)(x).loss, expected)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_fast_off_trains_through_autograd_to_nearly_the_losses_of_auto(tmp_path):
    auto = vaekit.train(epochs=2, out=tmp_path / "auto", grad_clip=5.0, **SMALL)
    off = vaekit.train(epochs=2, out=tmp_path / "off", grad_clip=5.0, fast="off", **SMALL)
    records = {name: _records(tmp_path / name) for name in ("auto", "off")}
    assert [r["training_step"] for r in records["auto"]] == ["fused", "fused"]
    assert [r["training_step"] for r in records["off"]] == ["autograd", "autograd"]
    for a, b in zip(records["auto"], records["off"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    for (name, p), q in zip(auto.model.named_parameters(), off.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-4), name


def test_runs_outside_its_scope_train_through_autograd(tmp_path):
    vaekit.train(epochs=1, out=tmp_path / "r", likelihood="gaussian", **SMALL)
    assert _records(tmp_path / "r")[0]["training_step"] == "autograd"


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy exp and log", "torch exp and log"])
def test_bernoulli_terms_match_aten_in_float32_and_fall_back_where_exp_overflows(numpy, monkeypatch, recwarn):
    import torch.nn.functional as F

    from vaekit.fast.dense_passes import bernoulli_recon_and_residual
    from vaekit.nets import layers

    monkeypatch.setattr(layers, "NUMPY_MAX_THREADS", torch.get_num_threads() if numpy else 0)
    calls = []
    real_exp = layers.np.exp
    monkeypatch.setattr(layers.np, "exp", lambda *a, **k: calls.append(1) or real_exp(*a, **k))
    torch.manual_seed(0)
    x = torch.rand(16, 30).mul_(torch.rand(16, 30) < 0.3)
    for logits in (torch.randn(16, 30) * 8 - 4, torch.randn(16, 30).index_fill_(1, torch.tensor([3]), 95.0)):
        recon, residual = bernoulli_recon_and_residual(logits, x)
        expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        assert torch.isfinite(recon).all()
        assert torch.allclose(recon, expected, rtol=1e-5, atol=1e-4)
        assert torch.allclose(residual, x - torch.sigmoid(logits), atol=1e-7)
    assert bool(calls) == numpy and not recwarn.list


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_min_backward_weight_plays_roulette_with_exactly_the_light_draws(activation, monkeypatch):
    monkeypatch.setattr(dense_passes, "KEPT_ROW_SHAPES", 10**9)  # no padding rows
    model, objective = small_model(activation=activation, encoder=(12, 8), decoder=(7, 9), likelihood="bernoulli",
                                   objective={"name": "iwae", "k": 8})  # fmt: skip
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    ref, won, lost = iwae_gradients_under_roulette(model, objective, x, 0.12)
    assert won > 0 and lost > 0  # light draws both run (weighing W) and are left out
    (exact, exact_grads), (got, got_grads) = autograd_and_fused(
        lambda m, o: FusedVAEStep(m, o, min_backward_weight=0.12), model, objective, x
    )
    assert torch.allclose(got.loss, exact.loss.detach(), rtol=1e-12)  # the loss is the whole bound's
    for name in ref:
        assert torch.allclose(got_grads[name], ref[name], rtol=1e-10, atol=1e-13), name
    assert not all(torch.allclose(got_grads[n], exact_grads[n], rtol=1e-6) for n in ref)


def test_a_min_backward_weight_no_draw_falls_under_gives_the_exact_gradient():
    model, objective = small_model(likelihood="bernoulli", objective={"name": "iwae", "k": 4})
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    (_, exact), (_, got) = autograd_and_fused(lambda m, o: FusedVAEStep(m, o, min_backward_weight=1e-300), model, objective, x)
    for name in exact:
        assert torch.allclose(got[name], exact[name], rtol=1e-10, atol=1e-13), name
