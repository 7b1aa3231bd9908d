import json

import pytest
import torch

import vaekit
from vaekit import objectives
from vaekit.config import RunConfig
from vaekit.models import create
from vaekit.fast.fused_step import FusedVAEStep, fused_step_unsupported

SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 64, "progress": "quiet"}


def _model(activation="relu", encoder=(12, 8), decoder=None, name="vae", likelihood=None, **model_options):
    config = RunConfig()
    m = config.model
    m.name, m.encoder, m.decoder, m.latent_dim, m.activation = name, list(encoder), decoder, 3, activation
    m.likelihood = likelihood
    for key, value in model_options.items():
        setattr(m, key, value)
    config.input_shape, config.value_range, config.num_classes = [1, 4, 5], "unit", 3
    torch.manual_seed(0)
    model = create(config).double()
    return model, objectives.create_objective(config, model)


def _autograd_and_fused(model, objective, x, step=0):
    """Return (autograd, fused) as (StepLoss, {name: grad}) from the same noise."""
    results = []
    for fused in (False, True):
        for p in model.parameters():
            p.grad = None
        torch.manual_seed(1)
        if fused:
            terms = FusedVAEStep(model, objective)(x, step)
        else:
            terms = objectives.training_loss(objective, model, x, None, step)
            terms.loss.backward()
        results.append((terms, {name: p.grad.clone() for name, p in model.named_parameters()}))
    return results


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "gelu", "silu", "leaky_relu"])
@pytest.mark.parametrize("binary", [True, False])
def test_gradients_match_autograd_for_every_activation(activation, binary):
    model, objective = _model(activation, encoder=(12, 8), decoder=[7, 9, 11])
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
    model, objective = _model(name="beta-vae", beta=4.0, warmup="linear", warmup_steps=10)
    assert fused_step_unsupported(model, objective) is None
    x = torch.bernoulli(torch.rand(5, 20, dtype=torch.float64))
    (ref, ref_grads), (got, got_grads) = _autograd_and_fused(model, objective, x, step)
    assert torch.allclose(got.loss, ref.loss.detach(), rtol=1e-12)
    for name in ref_grads:
        assert torch.allclose(got_grads[name], ref_grads[name], rtol=1e-10, atol=1e-13), name


def test_repeated_steps_reuse_gradient_buffers_and_stay_exact():
    model, objective = _model()
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


@pytest.mark.parametrize(
    "kind, options, reason",
    [
        ("model", {"name": "iwae"}, "objective"),
        ("model", {"name": "ae"}, "own forward"),
        ("model", {"name": "cvae"}, "own forward"),
        ("model", {"name": "vamp"}, "prior"),
        ("model", {"name": "beta-vae", "free_bits": 0.5}, "free bits"),
        ("model", {"likelihood": "gaussian"}, "likelihood"),
        ("model", {"likelihood": "continuous-bernoulli"}, "likelihood"),
        ("model", {"normalization": "layer"}, "LayerNorm"),
        ("run", {"precision": "bf16"}, "precision bf16"),
        ("run", {"compile": True}, "--compile"),
    ],
)
def test_runs_the_fused_step_does_not_cover_are_named(kind, options, reason):
    model_options = options if kind == "model" else {}
    model, objective = _model(**model_options)
    why = fused_step_unsupported(model, objective, **(options if kind == "run" else {}))
    assert why is not None and reason in why
    if kind == "model":
        with pytest.raises(ValueError, match="cannot train"):
            FusedVAEStep(model, objective)


def test_training_takes_the_fused_path_and_matches_autograd(tmp_path):
    fused = vaekit.train(epochs=2, out=tmp_path / "fused", grad_clip=5.0, **SMALL)
    plain = vaekit.train(epochs=2, out=tmp_path / "plain", grad_clip=5.0, fused_step=False, **SMALL)
    records = {
        name: [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        for name in ("fused", "plain")
    }
    assert [r["training_step"] for r in records["fused"]] == ["fused", "fused"]
    assert [r["training_step"] for r in records["plain"]] == ["autograd", "autograd"]
    for a, b in zip(records["fused"], records["plain"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    for (name, p), q in zip(fused.model.named_parameters(), plain.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-4), name


def test_runs_outside_its_scope_train_through_autograd(tmp_path):
    vaekit.train(epochs=1, out=tmp_path / "r", likelihood="gaussian", **SMALL)
    record = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["training_step"] == "autograd"


def test_bernoulli_terms_match_aten_in_float32_and_fall_back_where_exp_overflows():
    import torch.nn.functional as F

    from vaekit.fast.fused_step import _bernoulli_recon_and_residual

    torch.manual_seed(0)
    x = torch.rand(16, 30).mul_(torch.rand(16, 30) < 0.3)
    for logits in (torch.randn(16, 30) * 8 - 4, torch.randn(16, 30).index_fill_(1, torch.tensor([3]), 95.0)):
        recon, residual = _bernoulli_recon_and_residual(logits, x)
        expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        assert torch.isfinite(recon).all()
        assert torch.allclose(recon, expected, rtol=1e-5, atol=1e-4)
        assert torch.allclose(residual, x - torch.sigmoid(logits), atol=1e-7)
