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
