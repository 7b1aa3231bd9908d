"""The fused step of a VAE with stochastic layers computes autograd's loss and gradients."""

import pytest
import torch

import vaekit
from vaekit import fast, objectives
from vaekit.fast import dense_passes
from vaekit.fast.fused_hierarchy import FusedHierarchyStep
from vaekit.fast.fused_step import FusedTrainingStep, fused_step_unsupported
from vaekit.models import create
from vaekit.models.build import DataFacts

from .small_models import autograd_and_fused, iwae_gradients_under_roulette
from .test_fused_step import SMALL, _records


def hierarchy(objective, upper=(2,), activation="tanh", likelihood="bernoulli", **options):
    """Return ``(model, objective)``: an hvae with z_1 of 3 and ``upper`` layers above it, float64."""
    spec = {
        "name": "hvae",
        "latent_dim": 3,
        "net": {"name": "mlp", "encoder": [12, 8], "decoder": [7, 9], "activation": activation},
        "likelihood": {"name": likelihood},
        "objective": objective,
        "options": {"upper_latents": list(upper), "upper_hidden": [[5, 4]] * len(upper), **options},
    }
    torch.manual_seed(0)
    model = create(spec, DataFacts((1, 4, 5), "binary")).to(torch.float64)
    return model, objectives.create_objective(objective, model)


@pytest.mark.parametrize("upper", [(2,), (4, 2)], ids=["two layers", "three layers"])
@pytest.mark.parametrize(
    "objective",
    [{"name": "elbo"}, {"name": "iwae", "k": 1}, {"name": "iwae", "k": 4}, {"name": "elbo-k", "k": 3}],
    ids=["elbo", "iwae-1", "iwae-4", "elbo-k-3"],
)
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
def test_losses_and_gradients_match_autograd(upper, objective, activation):
    model, objective = hierarchy(objective, upper, activation)
    assert fused_step_unsupported(model, objective) is None
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    (ref, ref_grads), (got, got_grads) = autograd_and_fused(FusedHierarchyStep, model, objective, x)
    for field in ("loss", "recon", "kl", "kl_layers"):
        assert torch.allclose(getattr(got, field), getattr(ref, field).detach(), rtol=1e-10, atol=1e-12), field
    assert got.kl_layers.shape == (6, len(upper) + 1)
    assert ref_grads.keys() == got_grads.keys()
    for name in ref_grads:
        assert torch.allclose(got_grads[name], ref_grads[name], rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize(
    "objective, options, likelihood, reason",
    [
        ({"name": "elbo"}, {"flow_steps": 1}, "bernoulli", "IAF posterior"),
        ({"name": "beta-elbo", "beta": 2.0}, {}, "bernoulli", "objective BetaELBOObjective"),
        ({"name": "elbo"}, {}, "gaussian", "likelihood"),
    ],
)
def test_hierarchies_it_does_not_cover_are_named_and_train_through_autograd(objective, options, likelihood, reason):
    model, objective = hierarchy(objective, likelihood=likelihood, **options)
    why = fused_step_unsupported(model, objective)
    assert why is not None and reason in why
    assert fast.training_step_for(model, objective, torch.optim.Adam(model.parameters())) is None
    with pytest.raises(ValueError, match="cannot train"):
        FusedHierarchyStep(model, objective)


def test_the_ladder_vae_is_not_taken_for_burdas_hierarchy():
    ladder = create({"name": "lvae", "latent_dim": 3, "net": {"name": "mlp", "encoder": [8]}}, DataFacts((1, 4, 5), "binary"))
    assert "not a built-in" in fused_step_unsupported(ladder, objectives.create_objective({"name": "elbo"}, ladder))


def test_training_steps_alike_over_several_adam_steps():
    results = []
    for kind in ("fused", "autograd"):
        model, objective = hierarchy({"name": "iwae", "k": 3}, upper=(4, 2))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        step = fast.training_step_for(model, objective, optimizer) if kind == "fused" else None
        if kind == "fused":
            assert isinstance(step, FusedTrainingStep) and isinstance(step.gradients, FusedHierarchyStep)
        torch.manual_seed(4)
        losses = []
        for _ in range(4):
            x = torch.bernoulli(torch.rand(8, 20, dtype=torch.float64))
            if step is not None:
                losses.append(step(x, None, 0).loss)
            else:
                optimizer.zero_grad(set_to_none=True)
                loss = objectives.training_loss(objective, model, x, None, 0).loss
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
        results.append((torch.stack(losses), [p.detach().clone() for p in model.parameters()]))
    (fused_losses, fused_params), (ref_losses, ref_params) = results
    assert torch.allclose(fused_losses, ref_losses, rtol=1e-10)
    for got, ref in zip(fused_params, ref_params, strict=True):
        assert torch.allclose(got, ref, rtol=1e-8, atol=1e-10)


def test_an_hvae_run_trains_through_the_fused_step_and_logs_each_layers_kl(tmp_path):
    out = tmp_path / "run"
    vaekit.train(**{**SMALL, "model": "hvae", "objective": {"name": "iwae", "k": 2}, "epochs": 1, "binarize": "dynamic"}, out=out)
    records = _records(out)
    assert {r["training_step"] for r in records if "training_step" in r} == {"fused"}
    assert len(records[0]["train_kl_layers"]) == 2


@pytest.mark.parametrize("upper", [(2,), (4, 2)], ids=["two layers", "three layers"])
def test_min_backward_weight_plays_roulette_with_exactly_the_light_draws(upper, monkeypatch):
    monkeypatch.setattr(dense_passes, "KEPT_ROW_SHAPES", 10**9)  # no padding rows
    model, objective = hierarchy({"name": "iwae", "k": 8}, upper)
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    ref, won, lost = iwae_gradients_under_roulette(model, objective, x, 0.12)
    assert won > 0 and lost > 0
    (exact, exact_grads), (got, got_grads) = autograd_and_fused(
        lambda m, o: FusedHierarchyStep(m, o, min_backward_weight=0.12), model, objective, x
    )
    assert torch.allclose(got.loss, exact.loss.detach(), rtol=1e-12)
    assert torch.allclose(got.kl_layers, exact.kl_layers.detach(), rtol=1e-10)
    for name in ref:
        assert torch.allclose(got_grads[name], ref[name], rtol=1e-9, atol=1e-12), name
    assert not all(torch.allclose(got_grads[n], exact_grads[n], rtol=1e-6) for n in ref)
