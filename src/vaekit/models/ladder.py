"""The ladder VAE (Sonderby et al. 2016, arXiv:1602.02282): inference that runs top-down through
the generative path, correcting its Gaussians with bottom-up estimates from the data."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vaekit.distributions import (
    gaussian_log_prob_per_dim,
    kl_gaussians,
    kl_standard_normal,
    precision_weighted,
)
from vaekit.models.hierarchical import HierarchicalVAE, LayerTerms, sample_shape
from vaekit.models.latents import Noise, draw_layer, layer_code
from vaekit.models.registry import register
from vaekit.nets.mlp import GaussianEncoder
from vaekit.runtime.errors import ConfigError

__all__ = ["UPWARD_INPUTS", "LadderVAE"]

#: what the upward path's MLPs read (``model.upward``): the features d_l, or the means mu^_l
UPWARD_INPUTS = ("features", "means")


@register("lvae")
class LadderVAE(HierarchicalVAE):
    """Ladder VAE. A deterministic upward path d_1 = the encoder's features of x, d_l+1 =
    MLP(d_l), gives each layer a bottom-up Gaussian (mu^_l, sigma^_l) from linear heads. Inference
    then runs down the generative path: q(z_L|x) = N(mu^_L, sigma^_L) and, for each layer below,
    q(z_l|z_l+1, x) is the precision-weighted product of the bottom-up Gaussian and the prior
    p(z_l|z_l+1) (eq. 19-21 of the paper): the generative path's parameters serve inference.
    Every KL is in closed form given the layer above (with flows: one-sample log q - log p).

    Options as ``hvae`` (``upper_latents``, ``upper_hidden`` of the upward and downward MLPs,
    ``activation``, ``flow_steps``, ``flow_hidden``), and ``normalization`` (batch, the paper's
    batch normalisation; layer; none) after each hidden layer of the upper layers' MLPs; the
    net's own layers take ``--set net.normalization=batch``. Two options give the variant of the
    authors' code (github.com/casperkaae/LVAE, its ``-only_mu_up True -ladder_share_params
    False``): ``upward="means"`` feeds each upward MLP the bottom-up mean mu^_l instead of d_l,
    and ``share_top_down=False`` gives inference its own top-down MLPs, whose Gaussian given
    z_l+1 is merged with the bottom-up one in place of the prior's. The paper's KL warm-up is the
    ``beta-elbo`` objective's ``warmup`` (``--objective beta-elbo --set objective.warmup=linear
    --set objective.warmup_steps=N``). Sonderby et al.'s MNIST model is ``--encoder 512,512
    --latent 64 --set model.upper_latents=[32,16,8,4] --set
    model.upper_hidden=[[256,256],[128,128],[64,64],[32,32]]``."""

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: nn.Module,
        prior: nn.Module | None = None,
        upper_latents: Sequence[int] | None = None,
        upper_hidden: Sequence[Sequence[int]] | None = None,
        activation: str | None = None,
        normalization: str = "batch",
        flow_steps: int = 0,
        flow_hidden: Sequence[int] | None = None,
        upward: str = "features",
        share_top_down: bool = True,
        prior_hidden: Sequence[Sequence[int]] | None = None,
    ) -> None:
        if upward not in UPWARD_INPUTS:
            raise ValueError(f"model.upward must be one of {', '.join(UPWARD_INPUTS)}, got {upward!r}")
        #: what each upward MLP reads: "features" (d_l) or "means" (mu^_l); read by _build_upper
        self.upward_from = upward
        super().__init__(
            input_dim,
            latent_dim,
            encoder,
            decoder,
            likelihood,
            prior,
            upper_latents,
            upper_hidden,
            activation,
            flow_steps,
            flow_hidden,
            normalization,
            prior_hidden,
        )
        #: inference's own top-down MLPs q(z_l|z_l+1) (``share_top_down=False``), else None: the
        #: prior's conditionals serve inference; made after every other module, so that a shared
        #: model's initial weights do not depend on the option
        self.top_down: nn.ModuleList | None = None
        if not share_top_down:
            self.top_down = nn.ModuleList(
                GaussianEncoder(above, list(reversed(h)), below, self.upper_activation, self.normalization)
                for below, above, h in zip(self.widths[:-1], self.widths[1:], self.upper_hidden, strict=True)
            )

    def _build_upper(self, widths: list[int], hidden: list[list[int]], activation: str) -> None:
        features = self.encoder.feature_dim
        for below, above, h in zip(widths[:-1], widths[1:], hidden, strict=True):
            # d_l+1 = MLP(d_l) (or MLP(mu^_l)); its heads give the bottom-up Gaussian of z_l+1
            net = GaussianEncoder(below if self.upward_from == "means" else features, h, above, activation, self.normalization)
            self.upward.append(net)
            features = net.feature_dim

    def _top_down(self, index: int, above: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the top-down Gaussian ``(mu, logvar)`` of z_l (l = ``index``) given z_l+1 that
        inference merges with the bottom-up one: the prior's, or inference's own."""
        nets = self.prior.conditionals if self.top_down is None else self.top_down
        return nets[index](above)

    @property
    def noise_widths(self) -> tuple[int, ...]:
        return tuple(reversed(self.widths))  # drawn top-down

    def _upward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Return each layer's bottom-up ``(mu^, logvar^, d)``, bottom first, each ``[B, ...]``."""
        if self.training and self.normalization == "batch" and len(x) == 1:
            raise ConfigError(
                "batch normalisation (model.normalization: batch) cannot normalise a batch of one example: "
                "choose a --batch-size that leaves no last batch of one, or --set model.normalization=none"
            )
        d = self.encoder.features(x)
        mu = self.encoder.mu(d)
        estimates = [(mu, self.encoder.logvar(d), d)]
        for net in self.upward:
            d = net.features(mu if self.upward_from == "means" else d)
            mu = net.mu(d)
            estimates.append((mu, net.logvar(d), d))
        return estimates

    def _trace(self, x: torch.Tensor, k: int | None, draw: Noise) -> list[LayerTerms]:
        estimates = self._upward(x)
        top = self.num_layers - 1
        layers: list[LayerTerms | None] = [None] * self.num_layers
        above = None
        for index in range(top, -1, -1):
            mu_hat, logvar_hat, d = estimates[index]
            flow = self.layer_flow(index)
            if index == top:
                mu, logvar = mu_hat, logvar_hat
                z, log_q = draw_layer(mu, logvar, draw(sample_shape(k, mu), mu), flow, d)
                log_p = self.prior.top.marginal_log_prob_per_dim(z)
                kl = kl_standard_normal(mu, logvar) if flow is None else log_q - log_p
            else:
                mu_p, logvar_p = self.prior.conditionals[index](above)
                mu_t, logvar_t = (mu_p, logvar_p) if self.top_down is None else self._top_down(index, above)
                mu, logvar = precision_weighted(mu_hat, logvar_hat, mu_t, logvar_t)
                z, log_q = draw_layer(mu, logvar, draw(tuple(mu.shape), mu), flow, d)
                log_p = gaussian_log_prob_per_dim(z, mu_p, logvar_p)
                # z_l is drawn given z_l+1, on which its prior is conditioned: closed form
                kl = kl_gaussians(mu, logvar, mu_p, logvar_p) if flow is None else log_q - log_p
            layers[index] = LayerTerms(z, log_q, log_p, kl, mu, logvar)
            above = z
        return layers  # type: ignore[return-value]

    def posterior_codes(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        estimates = self._upward(x)
        top = self.num_layers - 1
        codes: list[tuple[torch.Tensor, torch.Tensor]] = []
        for index in range(top, -1, -1):
            mu_hat, logvar_hat, d = estimates[index]
            if index == top:
                mu, logvar = mu_hat, logvar_hat
            else:
                mu_t, logvar_t = self._top_down(index, codes[0][0])
                mu, logvar = precision_weighted(mu_hat, logvar_hat, mu_t, logvar_t)
            codes.insert(0, layer_code(mu, logvar, self.layer_flow(index), d))
        return codes
