"""Distributions: the posterior q(z|x), priors p(z) and likelihoods p(x|z) (torch only)."""

from vaekit.distributions.likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    CategoricalLikelihood,
    ContinuousBernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
    Likelihood,
    MixedLikelihood,
    create_likelihood,
    register_likelihood,
)
from vaekit.distributions.posterior import (
    gaussian_log_prob,
    gaussian_log_prob_per_dim,
    kl_gaussians,
    kl_standard_normal,
    precision_weighted,
    reparameterize,
)
from vaekit.distributions.priors import PRIORS, Prior, StandardNormalPrior, register_prior
from vaekit.distributions.vamp_prior import VampPrior

__all__ = [
    "LIKELIHOODS",
    "PRIORS",
    "BernoulliLikelihood",
    "CategoricalLikelihood",
    "ContinuousBernoulliLikelihood",
    "DiscretizedLogisticLikelihood",
    "GaussianLikelihood",
    "Likelihood",
    "MixedLikelihood",
    "Prior",
    "StandardNormalPrior",
    "VampPrior",
    "create_likelihood",
    "gaussian_log_prob",
    "gaussian_log_prob_per_dim",
    "kl_gaussians",
    "kl_standard_normal",
    "precision_weighted",
    "register_likelihood",
    "register_prior",
    "reparameterize",
]
