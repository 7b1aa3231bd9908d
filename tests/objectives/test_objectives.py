from types import SimpleNamespace

import pytest
import torch

import vaekit
from vaekit import objectives
from vaekit.config import RunConfig, apply_overrides
from vaekit.objectives import BetaELBOObjective, IWAEObjective, importance_weights, kl_weight
from vaekit.runtime.errors import ConfigError
from vaekit.training.build import build_model as create

SMALL = {"data": "digits", "encoder": [32], "latent_dim": 4, "batch_size": 64, "progress": "quiet"}


def test_linear_warmup_rises_from_zero_to_one_then_holds():
    assert [kl_weight(s, "linear", 4) for s in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cyclical_warmup_ramps_over_half_of_each_cycle_then_restarts():
    weights = [kl_weight(s, "cyclical", 8) for s in range(17)]
    assert weights[:8] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    assert weights[8:16] == weights[:8] and weights[16] == 0.0


def test_no_warmup_weighs_the_kl_fully_from_the_first_step():
    objective = BetaELBOObjective(beta=3.0)
    assert objective.kl_weight(0) == objective.kl_weight(1000) == 3.0


def _model(family="vae", latent=4, **options):
    config = RunConfig()
    config.model.name, config.model.net["encoder"], config.model.latent_dim = family, [16], latent
    apply_overrides(config, "model", **options)
    config.input_shape, config.value_range, config.levels, config.num_classes = [1, 8, 8], "unit", 17, 10
    torch.manual_seed(0)
    return create(config), config


def test_warmup_weight_reaches_the_loss_at_the_given_step():
    model, _ = _model()
    x = torch.rand(16, 64)
    objective = BetaELBOObjective(beta=2.0, warmup="linear", warmup_steps=10)
    torch.manual_seed(1)
    at_zero = objective(model, x, step=0)
    torch.manual_seed(1)
    at_five = objective(model, x, step=5)
    kl = at_zero.kl.mean()
    torch.testing.assert_close(at_zero.loss, -at_zero.recon.mean())  # weight 0: no KL yet
    torch.testing.assert_close(at_five.loss, -at_five.recon.mean() + 1.0 * kl)  # 2 * 5/10


def test_free_bits_keep_every_dimensions_kl_at_or_above_the_floor_in_the_objective():
    model, _ = _model(latent=6)
    floor = 0.5
    objective = BetaELBOObjective(free_bits=floor)
    x = torch.rand(32, 64)
    out = model(x)
    # shrink the posterior of half the dimensions towards the prior: their true KL falls below the floor
    counted = objective.kl_per_dim_in_objective(out.kl_per_dim * torch.tensor([1, 1, 1, 0, 0, 0.01]))
    assert (counted >= floor).all()
    assert (counted[3:] == floor).all()
    # and a dimension under the floor gets no gradient pushing it further towards the prior
    kl_per_dim = torch.tensor([[0.1, 2.0]], requires_grad=True)
    objective.kl_per_dim_in_objective(kl_per_dim).sum().backward()
    assert kl_per_dim.grad.tolist() == [[0.0, 1.0]]
    # the training loss counts the floored values: with a floor above every KL, L * floor
    torch.manual_seed(5)
    terms = BetaELBOObjective(free_bits=100.0)(model, x)
    torch.testing.assert_close(terms.loss, -terms.recon.mean() + 6 * 100.0)


def test_iwae_bound_is_at_least_the_elbo_of_the_same_network_on_the_same_batch():
    model, _ = _model("iwae")
    x = torch.bernoulli(torch.rand(64, 64))
    torch.manual_seed(2)
    weights = importance_weights(model, x, k=50)
    # For the same draws, log-mean-exp >= mean (Jensen): the bound beats the K-sample ELBO per example.
    assert (weights.bound() >= weights.log_weights.mean(0) - 1e-5).all()
    # And against the ELBO with analytic KL averaged over many draws, on the batch mean.
    torch.manual_seed(3)
    elbos = torch.stack([objectives.elbo(model(x)) for _ in range(200)]).mean(0)
    assert weights.bound().mean() > elbos.mean()


def test_iwae_objective_with_one_sample_is_the_monte_carlo_elbo():
    model, _ = _model("iwae")
    x = torch.rand(8, 64)
    torch.manual_seed(4)
    terms = IWAEObjective(k=1)(model, x)
    torch.testing.assert_close(terms.loss, -(terms.recon - terms.kl).mean())


def _recon(beta: float, tmp_path) -> float:
    run = vaekit.train(model="beta-vae", objective={"beta": beta}, epochs=15, out=tmp_path / f"beta{beta}", **SMALL)
    return -vaekit.evaluate(run, k=0)["recon_loss"]  # Bernoulli on grey levels: a loss, not a likelihood


def test_beta_zero_reconstructs_more_sharply_than_beta_four(tmp_path):
    sharp, blurry = _recon(0.0, tmp_path), _recon(4.0, tmp_path)
    # E_q log p(x|z) in nats per digit: with beta = 4 the code carries much less information.
    assert sharp > blurry + 3.0, (sharp, blurry)


def test_vae_and_beta_one_train_identically(tmp_path):
    a = vaekit.train(model="vae", epochs=1, out=tmp_path / "a", **SMALL)
    b = vaekit.train(model="beta-vae", objective={"beta": 1.0}, epochs=1, out=tmp_path / "b", **SMALL)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("warmup", ["linear", "cyclical"])
def test_warmup_runs_resume_bit_for_bit(tmp_path, warmup):
    options = {**SMALL, "model": "beta-vae", "objective": {"warmup": warmup, "warmup_steps": 30, "free_bits": 0.1}}
    straight = vaekit.train(epochs=3, out=tmp_path / "straight", **options)
    vaekit.train(epochs=2, out=tmp_path / "split", **options)
    resumed = vaekit.resume(tmp_path / "split", epochs=3, progress="quiet")
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_cyclical_warm_up_of_one_step_is_refused_since_its_kl_weight_would_stay_zero():
    assert [kl_weight(step, "cyclical", 2) for step in range(4)] == [0.0, 1.0, 0.0, 1.0]
    assert BetaELBOObjective(warmup="cyclical", warmup_steps=2).warmup_steps == 2
    with pytest.raises(ValueError, match="cyclical' needs cycles of warmup_steps >= 2"):
        BetaELBOObjective(warmup="cyclical", warmup_steps=1)
    assert BetaELBOObjective(warmup="linear", warmup_steps=1).kl_weight(1) == 1.0  # a linear ramp of one step is fine


def test_k_sample_elbo_is_the_mean_of_the_log_weights_and_below_the_iwae_bound():
    from vaekit.objectives import MultiSampleELBOObjective

    model, _ = _model()
    x = torch.rand(16, 64)
    torch.manual_seed(3)
    one = MultiSampleELBOObjective(k=1)(model, x)
    torch.manual_seed(3)
    assert torch.equal(one.loss, IWAEObjective(k=1)(model, x).loss)  # one draw: the same single-sample ELBO
    torch.manual_seed(4)
    mean = MultiSampleELBOObjective(k=7)(model, x)
    torch.manual_seed(4)
    weights = importance_weights(model, x, 7)
    assert torch.allclose(mean.loss, -weights.log_weights.mean(0).mean())
    torch.manual_seed(4)
    assert IWAEObjective(k=7)(model, x).loss <= mean.loss  # log-mean-exp >= mean (Jensen), on the same draws
    with pytest.raises(ValueError, match="k \\(posterior draws\\) must be >= 1"):
        MultiSampleELBOObjective(k=0)


def test_k_sample_elbo_trains_from_the_command_line_spelling(tmp_path):
    vae = vaekit.train(objective={"name": "elbo-k", "k": 3}, epochs=1, out=tmp_path / "run", **SMALL)
    assert vae.config.model.objective == {"name": "elbo-k", "k": 3}


class _ScaledRecon:
    """A custom objective, as in docs/extending.md: -weight * log p(x|z) from the model's pass."""

    requires_variational = False

    def __call__(self, model, x, y=None, step=0):
        out = model(x, *objectives.model_args(model, y))
        return objectives.StepLoss(-out.recon_log_prob.mean(), out.recon_log_prob, out.kl)


def _unsummed(model):
    """Make ``model``'s likelihood return one value per feature, [B, D], not per example."""
    log_prob = type(model.likelihood).log_prob_terms
    model.likelihood.log_prob = lambda x, params: log_prob(model.likelihood, x, params)
    return model


def test_a_log_prob_not_summed_over_the_features_is_refused_under_a_custom_objective():
    model, _ = _model()
    _unsummed(model)
    with pytest.raises(ConfigError, match=r"log_prob returned shape \[16, 64\] where \[16\] was expected"):
        objectives.training_loss(_ScaledRecon(), model, torch.rand(16, 64))


def test_a_recon_not_per_example_is_refused_even_from_a_familys_own_forward():
    model, _ = _model()
    _unsummed(model)
    per_feature = model.likelihood.log_prob

    def forward(x, y=None):  # a family's own pass, which does not check log_prob itself
        mu, logvar = model.encode(x)
        params = model.decode(mu)
        return SimpleNamespace(recon_log_prob=per_feature(x, params), kl=torch.zeros(len(x)))

    model.forward = forward
    with pytest.raises(ConfigError, match=r"returned recon of shape \[16, 64\] where \[16\] was expected.*\.sum\(-1\)"):
        objectives.training_loss(_ScaledRecon(), model, torch.rand(16, 64))


def test_an_objective_that_cannot_be_called_as_the_loop_calls_it_is_refused_when_it_registers():
    from vaekit.objectives.base import OBJECTIVES

    class NoStep:
        def __call__(self, model, x, y=None):
            raise AssertionError("never called")

    class NoCall:
        pass

    with pytest.raises(ConfigError, match=r"NoStep.__call__\(self, model, x, y=None\) cannot be called .*objective\(model, x, y, step\)"):
        OBJECTIVES.register("no-step-objective")(NoStep)
    with pytest.raises(ConfigError, match=r"NoCall defines no __call__"):
        OBJECTIVES.register("no-call-objective")(NoCall)
    assert "no-step-objective" not in OBJECTIVES.names() and "no-call-objective" not in OBJECTIVES.names()


def test_a_loss_that_is_not_one_number_is_refused():
    class PerExample(_ScaledRecon):
        def __call__(self, model, x, y=None, step=0):
            terms = super().__call__(model, x, y, step)
            return objectives.StepLoss(-terms.recon, terms.recon, terms.kl)

    model, _ = _model()
    with pytest.raises(ConfigError, match=r"returned a loss of shape \[16\] where one number was expected"):
        objectives.training_loss(PerExample(), model, torch.rand(16, 64))
