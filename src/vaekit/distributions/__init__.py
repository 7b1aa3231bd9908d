"""Distributions: the posterior q(z|x), priors p(z) and likelihoods p(x|z) (torch only)."""

from vaekit.distributions.likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    GaussianLikelihood,
    Likelihood,
    create_likelihood,
)
from vaekit.distributions.posterior import gaussian_log_prob, kl_standard_normal, reparameterize
from vaekit.distributions.priors import PRIORS, StandardNormalPrior

__all__ = [
    "LIKELIHOODS",
    "PRIORS",
    "BernoulliLikelihood",
    "GaussianLikelihood",
    "Likelihood",
    "StandardNormalPrior",
    "create_likelihood",
    "gaussian_log_prob",
    "kl_standard_normal",
    "reparameterize",
]
