"""A VAE whose marginal likelihood is known in closed form: a linear decoder with a Gaussian
likelihood of fixed sigma, so p(x) = N(x; b, W W^T + sigma^2 I)."""

from __future__ import annotations

import math

import torch

from vaekit.distributions import GaussianLikelihood
from vaekit.models.vae import VAE
from vaekit.nets import GaussianEncoder, MLPDecoder


def linear_gaussian_vae(dim: int = 6, latent: int = 2, sigma: float = 0.5, seed: int = 0) -> tuple[VAE, dict]:
    """Return a VAE with a linear decoder z -> W z + b whose W has orthogonal columns, and an
    encoder set to the exact posterior (diagonal because W^T W is). Also the true W, b, sigma."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, latent, generator=g, dtype=torch.float64))
    w = q * torch.linspace(1.0, 2.0, latent, dtype=torch.float64)  # orthogonal columns, norms 1..2
    b = torch.randn(dim, generator=g, dtype=torch.float64)
    model = VAE(dim, latent, GaussianEncoder(dim, [], latent), MLPDecoder(latent, [], dim), GaussianLikelihood(dim, sigma=sigma))
    precision = 1.0 + (w * w).sum(0) / sigma**2  # diagonal of I + W^T W / sigma^2
    gain = (w / sigma**2 / precision).T  # [L, D]: posterior mean = gain (x - b)
    with torch.no_grad():
        model.decoder.net.layers[0].weight.copy_(w)
        model.decoder.net.layers[0].bias.copy_(b)
        model.encoder.mu.weight.copy_(gain)
        model.encoder.mu.bias.copy_(-(gain @ b))
        model.encoder.logvar.weight.zero_()
        model.encoder.logvar.bias.copy_(-torch.log(precision))
    return model.eval(), {"w": w, "b": b, "sigma": sigma}


def exact_log_likelihood(x: torch.Tensor, truth: dict) -> torch.Tensor:
    """Return log N(x; b, W W^T + sigma^2 I) per row, float64 nats."""
    w, b, sigma = truth["w"], truth["b"], truth["sigma"]
    cov = w @ w.T + sigma**2 * torch.eye(len(b), dtype=torch.float64)
    return torch.distributions.MultivariateNormal(b, covariance_matrix=cov).log_prob(x.double())


def sample_data(n: int, truth: dict, seed: int = 1) -> torch.Tensor:
    """Draw ``n`` examples from the model's own marginal, float32 ``[n, D]``."""
    g = torch.Generator().manual_seed(seed)
    w, b, sigma = truth["w"], truth["b"], truth["sigma"]
    z = torch.randn(n, w.shape[1], generator=g, dtype=torch.float64)
    x = z @ w.T + b + sigma * torch.randn(n, len(b), generator=g, dtype=torch.float64)
    return x.float()


def loosen_encoder(model: VAE, shift: float = 0.7, log_var_scale: float = math.log(3.0)) -> VAE:
    """Make q(z|x) a worse proposal (shifted mean, wider), so the bound has a gap that K closes."""
    with torch.no_grad():
        model.encoder.mu.bias.add_(shift)
        model.encoder.logvar.bias.add_(log_var_scale)
    return model
