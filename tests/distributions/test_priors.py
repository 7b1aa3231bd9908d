import math

import torch

from vaekit.distributions import StandardNormalPrior, VampPrior, gaussian_log_prob
from vaekit.nets import GaussianEncoder


def _vamp(k=7, input_dim=6, latent_dim=3):
    torch.manual_seed(0)
    encoder = GaussianEncoder(input_dim, [5], latent_dim)
    return VampPrior(latent_dim, input_dim, encoder, pseudo_inputs=k), encoder


def test_vamp_log_prob_matches_a_brute_force_mixture():
    prior, encoder = _vamp()
    z = torch.randn(4, 5, 3, dtype=torch.float32)
    mu, logvar = encoder(prior.pseudo_inputs)
    brute = torch.zeros(4, 5, dtype=torch.float64)
    for i in range(4):
        for j in range(5):
            density = 0.0
            for k in range(7):
                normal = torch.distributions.Normal(mu[k].double(), (0.5 * logvar[k]).exp().double())
                density += normal.log_prob(z[i, j].double()).sum().exp().item() / 7
            brute[i, j] = math.log(density)
    torch.testing.assert_close(prior.log_prob(z).double(), brute, rtol=1e-5, atol=1e-5)


def test_vamp_kl_is_the_monte_carlo_difference_of_log_densities():
    prior, encoder = _vamp()
    x = torch.rand(5, 6)
    mu, logvar = encoder(x)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    kl, kl_per_dim = prior.kl(mu, logvar, z)
    torch.testing.assert_close(kl, gaussian_log_prob(z, mu, logvar) - prior.log_prob(z))
    assert kl_per_dim.shape == (5, 3)


def test_vamp_pseudo_inputs_are_learned_and_the_encoder_is_not_registered_twice():
    prior, encoder = _vamp()
    names = [n for n, _ in prior.named_parameters()]
    assert names == ["pseudo_inputs"]
    prior.log_prob(torch.randn(2, 3)).sum().backward()
    assert prior.pseudo_inputs.grad.abs().sum() > 0
    assert all(p.grad is not None for p in encoder.parameters())


def test_vamp_samples_come_from_the_components():
    prior, _ = _vamp(k=1)
    mu, _ = prior.components()
    torch.testing.assert_close(prior.sample(4, temperature=0.0), mu.expand(4, 3))


def test_standard_normal_kl_is_analytic_and_adds_up():
    prior = StandardNormalPrior(3)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    kl, per_dim = prior.kl(mu, logvar, z=torch.zeros(4, 3))
    torch.testing.assert_close(kl, per_dim.sum(-1))
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    )
    torch.testing.assert_close(per_dim, expected)
