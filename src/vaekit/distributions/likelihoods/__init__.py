"""Observation models p(x|z): the decoder outputs their parameters, these score data.

One file per family; each registers itself in ``LIKELIHOODS`` with ``@register_likelihood``.
"""

from vaekit.distributions.likelihoods.base import LIKELIHOODS, Likelihood, create_likelihood, register_likelihood
from vaekit.distributions.likelihoods.bernoulli import BernoulliLikelihood
from vaekit.distributions.likelihoods.categorical import CategoricalLikelihood
from vaekit.distributions.likelihoods.continuous_bernoulli import ContinuousBernoulliLikelihood
from vaekit.distributions.likelihoods.gaussian import GaussianLikelihood
from vaekit.distributions.likelihoods.logistic import DiscretizedLogisticLikelihood
from vaekit.distributions.likelihoods.mixed import MixedLikelihood

__all__ = [
    "LIKELIHOODS",
    "BernoulliLikelihood",
    "CategoricalLikelihood",
    "ContinuousBernoulliLikelihood",
    "DiscretizedLogisticLikelihood",
    "GaussianLikelihood",
    "Likelihood",
    "MixedLikelihood",
    "create_likelihood",
    "register_likelihood",
]
