import pytest
import torch

from vaekit.distributions import BernoulliLikelihood, GaussianLikelihood, create_likelihood


def test_bernoulli_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    logits = torch.randn(6, 10) * 3
    x = torch.bernoulli(torch.full((6, 10), 0.4))
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(BernoulliLikelihood(10).log_prob(x, logits), expected)


def test_bernoulli_log_prob_is_stable_for_extreme_logits():
    logits = torch.tensor([[200.0, -200.0]])
    x = torch.tensor([[1.0, 0.0]])
    assert torch.isfinite(BernoulliLikelihood(2).log_prob(x, logits)).all()


@pytest.mark.parametrize("sigma", [None, 0.3])
def test_gaussian_log_prob_matches_torch_distributions(sigma):
    torch.manual_seed(1)
    lik = GaussianLikelihood(4, sigma=sigma)
    if sigma is None:
        with torch.no_grad():
            lik.log_sigma.copy_(torch.randn(4) * 0.5)
    mean, x = torch.randn(5, 4), torch.randn(5, 4)
    expected = torch.distributions.Normal(mean, lik.log_sigma.exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(lik.log_prob(x, mean), expected)


def test_learned_sigma_is_a_parameter_and_fixed_sigma_is_not():
    assert any(n == "log_sigma" for n, _ in GaussianLikelihood(3).named_parameters())
    assert not list(GaussianLikelihood(3, sigma=0.5).parameters())


def test_log_prob_broadcasts_over_leading_sample_dimension():
    lik = BernoulliLikelihood(3)
    x = torch.ones(2, 3)
    params = torch.zeros(7, 2, 3)
    assert lik.log_prob(x, params).shape == (7, 2)


def test_unknown_likelihood_lists_the_choices():
    with pytest.raises(ValueError, match="bernoulli"):
        create_likelihood("poisson", 3)


# --- continuous Bernoulli -----------------------------------------------------------------------

from vaekit.distributions import (  # noqa: E402
    CategoricalLikelihood,
    ContinuousBernoulliLikelihood,
    DiscretizedLogisticLikelihood,
)


def test_continuous_bernoulli_log_prob_matches_torch_distributions():
    torch.manual_seed(2)
    logits = torch.cat([torch.randn(4, 6) * 4, torch.full((1, 6), 1e-4), torch.zeros(1, 6)])
    x = torch.rand(6, 6)
    expected = torch.distributions.ContinuousBernoulli(logits=logits.double()).log_prob(x.double()).sum(-1)
    got = ContinuousBernoulliLikelihood(6).log_prob(x, logits)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


def test_continuous_bernoulli_is_smooth_and_normalised_near_one_half():
    lik = ContinuousBernoulliLikelihood(1)
    logits = torch.linspace(-0.05, 0.05, 101, dtype=torch.float64).unsqueeze(-1).requires_grad_()
    grid = (torch.arange(20000, dtype=torch.float64) + 0.5) / 20000
    density = lik.log_prob(grid.view(-1, 1, 1), logits.expand(len(grid), 101, 1)).exp()  # [grid, logits]
    torch.testing.assert_close(density.mean(0), torch.ones(101, dtype=torch.float64), rtol=1e-6, atol=1e-6)
    lik.log_prob(torch.full((101, 1), 0.3, dtype=torch.float64), logits).sum().backward()
    assert torch.isfinite(logits.grad).all()
    # log-density at x=0.3 is smooth across the series/closed-form switch (no jump at |logit| = 0.02)
    values = lik.log_prob(torch.full((101, 1), 0.3, dtype=torch.float64), logits.detach())
    assert values.diff().abs().max() < 1e-3


def test_continuous_bernoulli_mean_matches_torch():
    logits = torch.tensor([[-30.0, -3.0, -0.01, 0.0, 1e-3, 0.5, 8.0]], dtype=torch.float64)
    expected = torch.distributions.ContinuousBernoulli(logits=logits).mean
    torch.testing.assert_close(ContinuousBernoulliLikelihood(7).mean(logits), expected, rtol=1e-6, atol=1e-6)


# --- Gaussian with per-example sigma ------------------------------------------------------------


def test_gaussian_per_example_sigma_reads_mean_then_log_sigma_from_the_decoder():
    torch.manual_seed(3)
    lik = GaussianLikelihood(4, sigma_type="per-example")
    assert lik.params_per_dim == 2 and not list(lik.parameters())
    mean, log_sigma, x = torch.randn(5, 4), torch.randn(5, 4) * 0.5, torch.randn(5, 4)
    expected = torch.distributions.Normal(mean, log_sigma.exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(lik.log_prob(x, torch.cat([mean, log_sigma], -1)), expected)
    torch.testing.assert_close(lik.mean(torch.cat([mean, log_sigma], -1)), mean)


def test_fixed_sigma_and_per_example_sigma_exclude_each_other():
    with pytest.raises(ValueError, match="exclude"):
        GaussianLikelihood(3, sigma=0.5, sigma_type="per-example")


# --- discretised logistic -----------------------------------------------------------------------


@pytest.mark.parametrize("levels, mixtures", [(256, 1), (256, 3), (17, 1), (2, 2)])
def test_discretized_logistic_probabilities_of_all_levels_sum_to_one(levels, mixtures):
    torch.manual_seed(4)
    lik = DiscretizedLogisticLikelihood(1, levels=levels, mixtures=mixtures)
    params = torch.randn(8, lik.params_per_dim) * torch.tensor(
        [1.0] * mixtures + [0.5] * (lik.params_per_dim - mixtures)
    )
    params[:, -1] = params[:, -1] - 2.0  # some narrow components too
    grid = torch.arange(levels, dtype=torch.float32).view(levels, 1, 1) / (levels - 1)
    total = lik.log_prob(grid, params).exp().sum(0)  # [8]
    torch.testing.assert_close(total, torch.ones(8), rtol=1e-4, atol=1e-4)


def test_discretized_logistic_bin_mass_matches_a_hand_computation():
    lik = DiscretizedLogisticLikelihood(2, levels=256)
    loc, log_scale = torch.tensor([[0.4, 0.0]]), torch.tensor([[-3.0, -3.0]])
    x = torch.tensor([[100 / 255, 0.0]])
    s, h = torch.exp(torch.tensor(-3.0)), 0.5 / 255
    middle = torch.sigmoid((x[0, 0] + h - 0.4) / s) - torch.sigmoid((x[0, 0] - h - 0.4) / s)
    first = torch.sigmoid((0.0 + h - 0.0) / s)  # the first bin takes (-inf, h]
    expected = torch.log(middle) + torch.log(first)
    torch.testing.assert_close(lik.log_prob(x, torch.cat([loc, log_scale], -1)), expected.view(1))


def test_discretized_logistic_samples_lie_on_the_grid():
    lik = DiscretizedLogisticLikelihood(5, levels=17, mixtures=2)
    xs = lik.sample(torch.randn(30, 5 * lik.params_per_dim))
    assert ((xs >= 0) & (xs <= 1)).all()
    torch.testing.assert_close(xs * 16, (xs * 16).round())


# --- categorical --------------------------------------------------------------------------------


def test_categorical_log_prob_matches_one_categorical_per_column_group():
    torch.manual_seed(5)
    groups = [3, 4, 2]
    lik = CategoricalLikelihood(9, groups=groups)
    logits = torch.randn(6, 9)
    index = [torch.randint(g, (6,)) for g in groups]
    x = torch.cat([torch.nn.functional.one_hot(i, g).float() for i, g in zip(index, groups, strict=True)], -1)
    expected = sum(
        torch.distributions.Categorical(logits=part).log_prob(i)
        for part, i in zip(logits.split(groups, -1), index, strict=True)
    )
    torch.testing.assert_close(lik.log_prob(x, logits), expected)
    sample = lik.sample(logits)
    assert [int(p.sum(-1).unique().item()) for p in sample.split(groups, -1)] == [1, 1, 1]


def test_categorical_groups_must_cover_the_columns():
    with pytest.raises(ValueError, match="add up"):
        CategoricalLikelihood(9, groups=[3, 4])


@pytest.mark.parametrize(
    "name", ["bernoulli", "gaussian", "continuous-bernoulli", "discretized-logistic", "categorical"]
)
def test_every_likelihood_broadcasts_over_leading_sample_dimensions(name):
    lik = create_likelihood(name, 4)
    x = torch.rand(2, 4)
    params = torch.randn(7, 2, 4 * lik.params_per_dim)
    assert lik.log_prob(x, params).shape == (7, 2)
    assert lik.mean(params).shape == (7, 2, 4)
