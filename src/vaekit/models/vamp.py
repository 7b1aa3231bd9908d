"""VAE with a VampPrior (Tomczak & Welling 2018): a mixture of posteriors at learned pseudo-inputs."""

from vaekit.models.registry import register
from vaekit.models.vae import VAE


@register("vamp")
class VampVAE(VAE):
    """The VAE with the ``vamp`` prior (option ``pseudo_inputs``: K); its KL is estimated by
    Monte Carlo at the posterior draw."""

    prior_name = "vamp"
