"""VAE variants composed from nets, likelihoods, priors and objectives, and one registry by name.

Each family lives in its own module and registers itself with ``@register(name)``.
"""

from vaekit.models.ae import Autoencoder
from vaekit.models.beta_vae import BetaVAE
from vaekit.models.build import DataFacts, create
from vaekit.models.cvae import ConditionalVAE
from vaekit.models.hierarchical import HierarchicalGaussianVAE, HierarchicalOutput, HierarchicalVAE
from vaekit.models.iwae import IWAE
from vaekit.models.ladder import LadderVAE
from vaekit.models.latents import LogWeights
from vaekit.models.registry import MODELS, available_models, register
from vaekit.models.vae import VAE, VAEOutput
from vaekit.models.vamp import VampVAE

__all__ = [
    "IWAE",
    "MODELS",
    "VAE",
    "Autoencoder",
    "BetaVAE",
    "ConditionalVAE",
    "DataFacts",
    "HierarchicalGaussianVAE",
    "HierarchicalOutput",
    "HierarchicalVAE",
    "LadderVAE",
    "LogWeights",
    "VAEOutput",
    "VampVAE",
    "available_models",
    "create",
    "register",
]
