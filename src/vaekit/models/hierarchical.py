"""VAEs with several stochastic layers: the hierarchy every such family shares, and the
two-stochastic-layer form of Burda et al. (2015), ``hvae``.

The layer next to the data, z_1, is the model's latent code: the net piece (``--net``,
``--encoder``, ``--decoder``, ``--latent``) gives q(z_1|x) and p(x|z_1), so ``encode``,
``decode``, reconstructions and the explorer work on z_1 as for any VAE. The layers above are
the family's own options, bottom-up:

- ``upper_latents``: widths of z_2, ..., z_L (default: one layer of half ``latent_dim``);
- ``upper_hidden``: for each of them, the hidden widths between it and the layer below (default:
  two layers as wide as the layer below: Burda et al.'s 100-100 between z_1 = 100 and z_2 = 50);
- ``prior_hidden``: the hidden widths of each p(z_l|z_l+1), bottom first (default: the upper
  layer's ``upper_hidden`` reversed, as the decoder mirrors the encoder);
- ``activation``: of those hidden layers (default: the net's);
- ``flow_steps``/``flow_hidden``: an IAF on every layer's posterior (see :class:`~vaekit.models.vae.VAE`).

The prior is p(z_L) = N(0, I) and p(z_l|z_l+1) diagonal Gaussians given by MLPs; ``model.prior``
is that whole generative stack seen as a prior over z_1 (:class:`HierarchicalPrior`): its
``sample`` draws z_1 ancestrally, so ``vaekit sample`` and the pictures need nothing new, but
its density, an integral over the layers above, has no closed form: the bounds use the model's
:meth:`HierarchicalVAE.log_weights`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vaekit.distributions import (
    StandardNormalPrior,
    gaussian_log_prob_per_dim,
    kl_standard_normal,
)
from vaekit.models.checks import check_per_example
from vaekit.models.latents import (
    LogWeights,
    Noise,
    activation_of,
    checked_widths,
    draw_layer,
    encoder_features,
    layer_code,
    make_flow,
    noise_source,
)
from vaekit.models.registry import register
from vaekit.models.vae import VAE, VAEOutput
from vaekit.nets.mlp import GaussianEncoder
from vaekit.runtime.batch_shard import standard_normal
from vaekit.runtime.errors import ConfigError

__all__ = ["HierarchicalGaussianVAE", "HierarchicalOutput", "HierarchicalPrior", "HierarchicalVAE", "LayerTerms"]


@dataclass
class HierarchicalOutput(VAEOutput):
    """:class:`VAEOutput` of a hierarchy, for the layer z_1 (``mu``, ``logvar``, ``z``,
    ``kl_per_dim``), with ``kl`` the whole KL estimate (all layers, nats per example) and:

    - ``kl_layers`` ``[B, n_layers]``: each layer's KL term, bottom first (they add up to ``kl``);
    - ``kl_dims`` ``[B, sum of widths]``: every layer's per-dimension KL, bottom first (free bits);
    - ``layer_means``: each layer's posterior code ``[B, L_l]`` through the layers' means, bottom
      first (in eval mode only: in training mode a pass of batch normalisation would move its
      running statistics), for active units per layer.
    """

    kl_layers: torch.Tensor | None = None
    kl_dims: torch.Tensor | None = None
    layer_means: list[torch.Tensor] | None = None


@dataclass
class LayerTerms:
    """One stochastic layer at a draw: ``z`` ``[..., B, L_l]``, log q and log p per dimension
    (nats; q with its flow's log-determinant, p the conditional prior given the layer above),
    ``kl`` per dimension (closed form where the layer's posterior is Gaussian and drawn after
    the layer its prior conditions on, else log q - log p), and the Gaussian ``mu``/``logvar``
    of q at this draw (before any flow)."""

    z: torch.Tensor
    log_q: torch.Tensor
    log_p: torch.Tensor
    kl: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor


class HierarchicalPrior(nn.Module):
    """The generative stack p(z_L) p(z_L-1|z_L) ... p(z_2|z_3) seen as a prior over z_1 (with
    p(z_1|z_2)): ``widths`` bottom first, ``conditionals[l]`` the MLP mapping z_l+2 to the
    Gaussian ``(mu, logvar)`` of z_l+1. ``sample`` draws z_1 ancestrally; ``log_prob`` has no
    closed form and raises."""

    name = "hierarchical"
    has_analytic_kl = False

    def __init__(self, widths: Sequence[int], conditionals: nn.ModuleList) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.latent_dim = self.widths[0]
        self.top = StandardNormalPrior(self.widths[-1])
        self.conditionals = conditionals

    @torch.no_grad()
    def sample_layers(
        self,
        n: int,
        device: torch.device | str = "cpu",
        temperature: float = 1.0,
        means_below: int = 0,
        top: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Draw ``n`` codes of every layer ancestrally, each ``[n, L_l]``, bottom first: z_L from
        N(0, I) with its std scaled by ``temperature`` (or ``top`` ``[n, L_L]`` as given), then
        each layer below from p(z_l|z_l+1), its std scaled too. The layers of index below
        ``means_below`` (0 is z_1) take the means of p(z_l|z_l+1) instead of draws:
        ``means_below = L - 1`` decodes z_L through the means alone. Draws carry no autograd
        graph: a prior sample is not part of any bound."""
        last = len(self.widths) - 1
        if isinstance(means_below, bool) or not isinstance(means_below, int) or not 0 <= means_below <= last:
            raise ConfigError(f"means_below must be a layer index 0..{last} (0 is z_1), got {means_below!r}")
        z = self.top.sample(n, device=device, temperature=temperature) if top is None else top
        layers = [z]
        for index in range(len(self.conditionals) - 1, -1, -1):
            mu, logvar = self.conditionals[index](z)
            z = mu if index < means_below else mu + temperature * torch.exp(0.5 * logvar) * torch.randn_like(mu)
            layers.insert(0, z)
        return layers

    def sample(self, n: int, device: torch.device | str = "cpu", temperature: float = 1.0) -> torch.Tensor:
        """Draw ``[n, L_1]`` codes of z_1 through the hierarchy (see :meth:`sample_layers`)."""
        return self.sample_layers(n, device, temperature)[0]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "log p(z_1) of a hierarchy is an integral over the layers above, with no closed form; "
            "the model's log_weights(x, k) gives the importance weights over all layers"
        )

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("the KL of a hierarchy is computed by the model's forward pass, layer by layer")


def sample_shape(k: int | None, like: torch.Tensor) -> tuple[int, ...]:
    """The noise shape of one draw per example (``k`` None: ``[B, L]``) or of ``k`` (``[k, B, L]``)."""
    return tuple(like.shape) if k is None else (k, *like.shape)


def upper_layout(
    latent_dim: int, upper_latents: Sequence[int] | None, upper_hidden: Sequence[Sequence[int]] | None
) -> tuple[list[int], list[list[int]]]:
    """Return every stochastic layer's width, bottom (z_1 = ``latent_dim``) first, and the hidden
    widths between each upper layer and the one below; ValueError naming the fix when the lists
    do not fit together."""
    if upper_latents is None:
        upper = [max(1, latent_dim // 2)]
    else:
        upper = checked_widths(upper_latents, "model.upper_latents")
        if not upper:
            raise ValueError(
                "model.upper_latents is empty: a hierarchy needs at least one layer above z_1, e.g. [50] "
                "(a single stochastic layer is --model vae)"
            )
    widths = [latent_dim, *upper]
    if upper_hidden is None:
        return widths, [[w, w] for w in widths[:-1]]
    if len(upper_hidden) != len(upper):
        example = [[w, w] for w in widths[:-1]]
        raise ValueError(
            f"model.upper_hidden gives {len(upper_hidden)} list(s) of hidden widths for {len(upper)} upper layer(s) "
            f"(model.upper_latents={upper}): give one list per upper layer, e.g. {example}"
        )
    hidden = [checked_widths(h, f"model.upper_hidden[{i}]") for i, h in enumerate(upper_hidden)]
    return widths, hidden


def prior_layout(hidden: list[list[int]], prior_hidden: Sequence[Sequence[int]] | None) -> list[list[int]]:
    """Return the hidden widths of each p(z_l|z_l+1), bottom first: ``prior_hidden`` when given,
    else each upper layer's ``hidden`` reversed (as the decoder mirrors the encoder); ValueError
    naming the fix when ``prior_hidden`` has the wrong number of lists."""
    if prior_hidden is None:
        return [list(reversed(h)) for h in hidden]
    if len(prior_hidden) != len(hidden):
        raise ValueError(
            f"model.prior_hidden gives {len(prior_hidden)} list(s) of hidden widths for {len(hidden)} upper layer(s): "
            f"give one list per upper layer, bottom first (p(z_1|z_2) first), e.g. {[list(reversed(h)) for h in hidden]}"
        )
    return [checked_widths(h, f"model.prior_hidden[{i}]") for i, h in enumerate(prior_hidden)]


class HierarchicalVAE(VAE):
    """The shared machinery of VAEs with stochastic layers z_1 (next to the data) ... z_L (under
    N(0, I)); a family fills in :meth:`_build_upper`, :meth:`_trace` and
    :meth:`posterior_codes`, and :attr:`noise_widths` (the order of its draws).

    ``forward`` and :meth:`log_weights` decode z_1 through :meth:`decode`, so a family's
    override of ``decode`` is trained and evaluated with; they draw z_1 through :meth:`_trace`
    (the encoder's features feed the layers above), so a family overrides ``_trace`` and
    ``posterior_codes`` rather than ``encode``, and one that overrides ``encode`` is refused
    when it is built."""

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
        flow_steps: int = 0,
        flow_hidden: Sequence[int] | None = None,
        normalization: str = "none",
        prior_hidden: Sequence[Sequence[int]] | None = None,
    ) -> None:
        encoder_features(encoder, "a hierarchy of latent layers")
        if prior is not None and type(prior) is not StandardNormalPrior:
            raise ValueError(
                "a hierarchy puts N(0, I) on its top layer and Gaussians given the layer above on the others; "
                f"the prior {getattr(prior, 'name', type(prior).__name__)!r} does not apply: leave --prior out"
            )
        super().__init__(input_dim, latent_dim, encoder, decoder, likelihood, None, 0, flow_steps, flow_hidden)
        widths, hidden = upper_layout(latent_dim, upper_latents, upper_hidden)
        generative_hidden = prior_layout(hidden, prior_hidden)
        self.widths = tuple(widths)
        #: the hidden widths of each upper layer's inference MLP, bottom-up (for a family's extra nets)
        self.upper_hidden = hidden
        #: normalisation after each hidden layer of the upper layers' MLPs (none, batch, layer)
        self.normalization = normalization
        #: the activation of the upper layers' MLPs (the encoder's unless given)
        self.upper_activation = act = activation or activation_of(encoder)
        #: one module per upper layer, bottom-up (hvae: q(z_l+1|z_l); lvae: the upward path)
        self.upward = nn.ModuleList()
        conditionals = nn.ModuleList()
        self._build_upper(widths, hidden, act)
        for below, above, h in zip(widths[:-1], widths[1:], generative_hidden, strict=True):
            conditionals.append(GaussianEncoder(above, h, below, act, self.normalization))  # p(z_l|z_l+1)
        self.prior = HierarchicalPrior(widths, conditionals)
        #: the IAF of each layer above z_1 (z_1's is ``self.flow``), or None without flows
        self.upper_flows = (
            nn.ModuleList(
                make_flow(w, net.feature_dim, flow_steps, flow_hidden)
                for w, net in zip(widths[1:], self.upward, strict=True)
            )
            if flow_steps
            else None
        )

    def _bypassed_override(self) -> str | None:
        """Return why this family's override of ``encode`` would be left out of training, or
        None: a hierarchy draws z_1 in :meth:`_trace`, from the encoder's features."""
        if type(self).encode is HierarchicalVAE.encode:
            return None
        return (
            f"model {type(self).__name__} overrides encode, but a hierarchy draws z_1 from the encoder's features "
            "in _trace (they feed the layers above), which would leave the override out of training: override "
            "_trace and posterior_codes instead (see vaekit.models.hierarchical)"
        )

    def _build_upper(self, widths: list[int], hidden: list[list[int]], activation: str) -> None:
        raise NotImplementedError

    def _trace(self, x: torch.Tensor, k: int | None, draw: Noise) -> list[LayerTerms]:
        """Return every layer at one draw per example (``k`` None: ``[B, ...]``) or at ``k``
        draws (``[k, B, ...]``), bottom first, the noise from ``draw``."""
        raise NotImplementedError

    def posterior_codes(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Return each layer's posterior ``(code, logvar)`` ``[B, L_l]`` with every layer it
        depends on at its code (the means, or their flows' images), bottom first."""
        raise NotImplementedError

    def layer_flow(self, layer: int) -> nn.Module | None:
        """The IAF of stochastic layer ``layer`` (0: z_1), or None."""
        if layer == 0:
            return self.flow
        return None if self.upper_flows is None else self.upper_flows[layer - 1]

    @property
    def own_log_weights(self) -> bool:
        return True

    @property
    def num_layers(self) -> int:
        """Number of stochastic layers."""
        return len(self.widths)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return z_1's posterior ``(code, logvar)``, each ``[B, L_1]``, with the layers it
        depends on at their codes (see :meth:`posterior_codes`)."""
        self.condition(y)
        return self.posterior_codes(x)[0]

    def sample_posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return one draw of z_1 from q(z|x) per example, ``[B, L_1]``, every layer it depends
        on drawn too (not at their codes, as :meth:`encode` takes them)."""
        self.condition(y)
        return self._trace(x, None, standard_normal)[0].z

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> HierarchicalOutput:
        self.condition(y)
        layers = self._trace(x, None, standard_normal)
        z = layers[0].z
        params = self.decode(z, y)
        kl_layers = torch.stack([layer.kl.sum(-1) for layer in layers], dim=-1)
        means = None
        mu, logvar = layers[0].mu, layers[0].logvar
        if not self.training:
            with torch.no_grad():
                codes = self.posterior_codes(x)
            means = [code for code, _ in codes]
            mu, logvar = codes[0]
        return HierarchicalOutput(
            mu=mu,
            logvar=logvar,
            z=z,
            params=params,
            recon_log_prob=check_per_example(self.likelihood.log_prob(x, params), x.shape[:1], self),
            kl=kl_layers.sum(-1),
            kl_per_dim=layers[0].kl,
            kl_layers=kl_layers,
            kl_dims=torch.cat([layer.kl for layer in layers], dim=-1),
            layer_means=means,
        )

    def log_weights(
        self, x: torch.Tensor, k: int, y: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> LogWeights:
        """Return the terms of ``k`` importance weights per example of ``x`` ``[B, D]``, each
        ``[k, B]`` nats: log p(x|z_1), log p(z_L) + sum_l log p(z_l|z_l+1) and sum_l log q of
        each layer, every layer drawn through the hierarchy from ``generator`` (None: the
        global RNG, as in training)."""
        self.condition(y)
        layers = self._trace(x, k, noise_source(generator))
        z = layers[0].z
        params = self.decode(z.reshape(-1, z.shape[-1]), y).reshape(*z.shape[:-1], -1)
        log_q = [layer.log_q.sum(-1) for layer in layers]
        log_p = [layer.log_p.sum(-1) for layer in layers]
        return LogWeights(
            check_per_example(self.likelihood.log_prob(x, params), (k, len(x)), self),
            torch.stack(log_p).sum(0),
            torch.stack(log_q).sum(0),
            torch.stack([q - p for q, p in zip(log_q, log_p, strict=True)], dim=-1),
            params,
        )


@register("hvae")
class HierarchicalGaussianVAE(HierarchicalVAE):
    """Burda et al. (2015)'s VAE with stochastic layers: q(z_1|x) q(z_2|z_1) ... and
    p(z_L) ... p(z_1|z_2) p(x|z_1), each layer a diagonal Gaussian given by an MLP of the layer
    below (inference) or above (generation). Burda's MNIST model is ``--encoder 200,200 --latent
    100 --set net.activation=tanh`` with the default upper layer (50 wide, 100-100 hidden).

    The KL of the top layer is in closed form given the draw below; the others are one-sample
    log q - log p (their prior's condition is drawn after them)."""

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
        flow_steps: int = 0,
        flow_hidden: Sequence[int] | None = None,
        prior_hidden: Sequence[Sequence[int]] | None = None,
    ) -> None:
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
            prior_hidden=prior_hidden,
        )

    def _build_upper(self, widths: list[int], hidden: list[list[int]], activation: str) -> None:
        for below, above, h in zip(widths[:-1], widths[1:], hidden, strict=True):
            self.upward.append(GaussianEncoder(below, h, above, activation))  # q(z_l+1|z_l)

    @property
    def noise_widths(self) -> tuple[int, ...]:
        return self.widths  # drawn bottom-up

    def _trace(self, x: torch.Tensor, k: int | None, draw: Noise) -> list[LayerTerms]:
        h = self.encoder.features(x)
        mu, logvar = self.encoder.mu(h), self.encoder.logvar(h)
        drawn = []
        for index in range(self.num_layers):
            if index:
                net = self.upward[index - 1]
                h = net.features(drawn[-1][0])
                mu, logvar = net.mu(h), net.logvar(h)
            eps = draw(sample_shape(k, mu) if index == 0 else tuple(mu.shape), mu)
            flow = self.layer_flow(index)
            z, log_q = draw_layer(mu, logvar, eps, flow, h)
            drawn.append((z, log_q, mu, logvar, flow))
        layers = []
        top = self.num_layers - 1
        for index, (z, log_q, mu, logvar, flow) in enumerate(drawn):
            if index == top:
                log_p = self.prior.top.marginal_log_prob_per_dim(z)
                # z_L is drawn given z_L-1 and its prior needs nothing: the KL has a closed form
                kl = kl_standard_normal(mu, logvar) if flow is None else log_q - log_p
            else:
                mu_p, logvar_p = self.prior.conditionals[index](drawn[index + 1][0])
                log_p = gaussian_log_prob_per_dim(z, mu_p, logvar_p)
                kl = log_q - log_p  # z_l+1 is drawn after z_l: no closed form
            layers.append(LayerTerms(z, log_q, log_p, kl, mu, logvar))
        return layers

    def posterior_codes(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        h = self.encoder.features(x)
        codes = [layer_code(self.encoder.mu(h), self.encoder.logvar(h), self.flow, h)]
        for index, net in enumerate(self.upward, start=1):
            h = net.features(codes[-1][0])
            codes.append(layer_code(net.mu(h), net.logvar(h), self.layer_flow(index), h))
        return codes
