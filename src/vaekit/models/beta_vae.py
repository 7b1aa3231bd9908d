"""beta-VAE (Higgins et al. 2017) with KL warm-up and free bits (Kingma et al. 2016)."""

from vaekit.models.registry import register
from vaekit.models.vae import VAE


@register("beta-vae")
class BetaVAE(VAE):
    """The VAE trained with the ``beta-elbo`` objective: options ``beta``, ``warmup``
    (none|linear|cyclical), ``warmup_steps`` and ``free_bits`` (nats per latent dimension)."""

    objective_name = "beta-elbo"
