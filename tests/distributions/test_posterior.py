import math

import torch

from vaekit.distributions import gaussian_log_prob, kl_standard_normal, reparameterize


def test_reparameterized_samples_have_the_posterior_mean_and_variance():
    torch.manual_seed(0)
    n = 200_000
    mu = torch.tensor([[-1.5, 0.0, 2.0]])
    logvar = torch.tensor([[0.0, -2.0, 1.0]])
    z = reparameterize(mu, logvar, n_samples=n)[:, 0, :]
    var = logvar.exp()[0]
    # Standard errors of the sample mean and variance of a Gaussian; 5 sigma bounds.
    se_mean = torch.sqrt(var / n)
    se_var = var * math.sqrt(2.0 / (n - 1))
    assert ((z.mean(0) - mu[0]).abs() < 5 * se_mean).all()
    assert ((z.var(0) - var).abs() < 5 * se_var).all()


def test_reparameterization_passes_gradients_to_mu_and_logvar():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_analytic_kl_matches_monte_carlo_estimate():
    torch.manual_seed(1)
    mu = torch.randn(3, 4)
    logvar = torch.randn(3, 4) * 0.5
    analytic = kl_standard_normal(mu, logvar).sum(-1)
    n = 400_000
    z = reparameterize(mu, logvar, n_samples=n)
    log_q = gaussian_log_prob(z, mu, logvar)
    log_p = -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)
    diff = log_q - log_p
    mc, se = diff.mean(0), diff.std(0) / math.sqrt(n)
    assert ((mc - analytic).abs() < 5 * se).all()


def test_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(2)
    z, mu, logvar = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    expected = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(z, mu, logvar), expected)


def test_kl_of_the_prior_to_itself_is_zero():
    assert kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def test_gaussian_densities_stay_finite_for_layers_narrower_than_float32s_exp_can_invert():
    from vaekit.distributions import gaussian_log_prob_per_dim, kl_gaussians

    # Both Gaussians of a layer narrowed to sigma ~ 1e-20 (logvar ~ -92), z and the means apart by
    # a few sigma: every term is O(1) though exp(-logvar) overflows float32.
    logvar_q = torch.tensor([-92.0, -91.0, 0.5])
    logvar_p = torch.tensor([-91.5, -92.0, -0.3])
    sigma_p = torch.exp(0.5 * logvar_p.double())
    mu_p = torch.tensor([21.0, -3.0, 0.2])
    mu_q = (mu_p.double() + 0.7 * sigma_p).float()
    z = (mu_p.double() - 1.3 * sigma_p).float()
    exact = (mu_q.double(), logvar_q.double(), mu_p.double(), logvar_p.double())
    kl = kl_gaussians(mu_q, logvar_q, mu_p, logvar_p)
    log_p = gaussian_log_prob_per_dim(z, mu_p, logvar_p)
    assert torch.isfinite(kl).all() and torch.isfinite(log_p).all()
    torch.testing.assert_close(kl.double(), kl_gaussians(*exact), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(log_p.double(), gaussian_log_prob_per_dim(z.double(), *exact[2:]), rtol=1e-5, atol=1e-3)
