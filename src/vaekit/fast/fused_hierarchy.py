"""A hand-written training step for Burda et al.'s VAE with stochastic layers (``hvae``).

The model: q(z_1|x) q(z_2|z_1) ... q(z_L|z_L-1) and p(z_L) p(z_L-1|z_L) ... p(x|z_1), every
layer a diagonal Gaussian given by an MLP (:class:`~vaekit.models.hierarchical.HierarchicalGaussianVAE`
without flows, Bernoulli p(x|z_1)). Its training step records a graph of many small ops per
layer, which for these small MLPs costs more than their matmuls; this module computes the
ELBO, the IWAE bound or the k-sample ELBO and their gradients with the matmuls autograd would
run and no graph, writing every parameter's ``.grad``. The noise comes from the same calls in
the same order as the model's own pass, so both paths see the same draws, and their losses and
gradients agree to float rounding (tested against autograd).

Every objective here is a weighted sum of per-draw terms: log p(x|z_1), each log p(z_l|z_l+1),
log p(z_L) and each log q(z_l|z_l-1) = -(log 2 pi + logvar_l + eps_l^2) / 2 (summed over the
layer), with weight c per draw (1/B for the ELBO, 1/(kB) for the k-sample ELBO, the normalised
importance weights over B for IWAE); the ELBO takes the top layer's KL in closed form instead.
The backward runs top-down: the gradient at z_l collects the decoder's (l = 1), the prior
conditionals' (z_l as the value and as the condition) and the upward net's of the layer above;
z_l = mu_l + sigma_l eps_l then gives mu_l and logvar_l theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.distributions.likelihoods.bernoulli import BernoulliLikelihood
from vaekit.distributions.posterior import LOG_2PI
from vaekit.fast.dense import DenseLayer, mlp_layers
from vaekit.fast.dense_passes import (
    GaussianNetPass,
    Saved,
    backward_layers,
    bernoulli_recon_and_residual,
    forward_layers,
    in_place_forwards,
    kept_draws,
    rows_of_saved,
    sum_draws,
)
from vaekit.fast.families import HIERARCHY_FAMILIES, family_unsupported
from vaekit.models.hierarchical import HierarchicalGaussianVAE
from vaekit.objectives.base import StepLoss
from vaekit.objectives.elbo import ELBOObjective
from vaekit.objectives.iwae import IWAEObjective, MultiSampleELBOObjective
from vaekit.runtime.batch_shard import standard_normal

#: the objectives the step computes
OBJECTIVES = (ELBOObjective, IWAEObjective, MultiSampleELBOObjective)


def hierarchy_unsupported(model: HierarchicalGaussianVAE, objective: Any) -> str | None:
    """Return why :class:`FusedHierarchyStep` cannot train ``model`` on ``objective``, or None.

    It covers the built-in ``hvae`` (by exact type: a subclass may override a pass it would
    leave out) without flows or a condition, with MLP nets of Linear layers and plain
    activations (no normalisation) everywhere, the Bernoulli likelihood, trained on ``elbo``,
    ``iwae`` or ``elbo-k``."""
    reason = family_unsupported(model, HIERARCHY_FAMILIES)
    if reason is not None:
        return reason
    if getattr(model, "conditional", False):
        return f"model {type(model).__name__} is conditional"
    if model.flow is not None or model.upper_flows is not None:
        return f"model {type(model).__name__} has an IAF posterior (model.flow_steps)"
    if type(objective) not in OBJECTIVES:
        return f"objective {type(objective).__name__} on a hierarchy"
    if type(model.likelihood) is not BernoulliLikelihood:
        return f"likelihood {type(model.likelihood).__name__}"
    for net in (model.encoder, model.decoder, *model.upward, *model.prior.conditionals):
        layers = mlp_layers(net)
        if isinstance(layers, str):
            return layers
    return None


@dataclass
class _Layer:
    """One stochastic layer at the step's draws: ``mu``, ``logvar`` (``[B, L]`` for z_1, else
    ``[N, L]``, N = k x B rows), ``eps`` and ``noise`` = sigma * eps and ``z`` ``[N, L]``, and
    the pass of the net that gave ``mu``/``logvar`` (its saved tensors and features)."""

    mu: torch.Tensor
    logvar: torch.Tensor
    eps: torch.Tensor
    noise: torch.Tensor
    z: torch.Tensor
    saved: Saved
    features: torch.Tensor


class FusedHierarchyStep:
    """The loss of a batch and its gradients for a model :func:`hierarchy_unsupported` accepts,
    without autograd. Called with ``x`` ``[B, D]`` it writes d loss / d theta into every
    parameter's ``.grad`` and returns the :class:`StepLoss` the autograd objective would
    (``kl_layers`` included), detached. The backward's matmuls read ``grad_dtype``
    (:func:`~vaekit.fast.dense_passes.backward_mm`)."""

    def __init__(
        self,
        model: HierarchicalGaussianVAE,
        objective: Any,
        grad_dtype: torch.dtype | None = None,
        min_backward_weight: float = 0.0,
        roulette_seed: int = 0,
    ) -> None:
        reason = hierarchy_unsupported(model, objective)
        if reason is not None:
            raise ValueError(f"the fused step cannot train this model: {reason}")
        self.objective, self.grad_dtype = objective, grad_dtype
        self.min_backward_weight, self.roulette_seed = min_backward_weight, roulette_seed
        self.encoder = GaussianNetPass(model.encoder, grad_dtype)
        self.upward = [GaussianNetPass(net, grad_dtype) for net in model.upward]
        self.conditionals = [GaussianNetPass(net, grad_dtype) for net in model.prior.conditionals]
        self.decoder: list[DenseLayer] = mlp_layers(model.decoder)  # type: ignore[assignment]
        self._decoder_in_place = in_place_forwards(self.decoder)
        covered = {id(p) for net in (self.encoder, *self.upward, *self.conditionals) for p in net.parameters()}
        covered |= {id(p) for d in self.decoder for p in d.linear.parameters()}
        missing = [name for name, p in model.named_parameters() if id(p) not in covered]
        if missing:
            raise ValueError(f"the fused step would not train parameters {missing}")

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, step: int = 0) -> StepLoss:
        k = None if type(self.objective) is ELBOObjective else self.objective.k
        batch = x.shape[0]
        rows = batch if k is None else k * batch
        layers = self._draw_layers(x, k, rows)
        top = len(layers) - 1

        # log q of each layer given the one below, per row: -(L log 2pi + sum logvar + sum eps^2) / 2.
        log_q = []
        for index, layer in enumerate(layers):
            width = layer.eps.shape[-1]
            logvar_sum = layer.logvar.sum(-1)
            if index == 0 and k is not None:
                logvar_sum = logvar_sum.expand(k, batch).reshape(rows)
            log_q.append((layer.eps * layer.eps).sum(-1).add_(logvar_sum).add_(width * LOG_2PI).mul_(-0.5))
        # log p(z_l|z_l+1) below the top, with what its backward reads.
        log_p, conditional_passes = [], []
        for index, net in enumerate(self.conditionals):
            heads, saved, features = net.forward(layers[index + 1].z)
            width = net.latent
            mu_p, logvar_p = heads[:, :width], heads[:, width:]
            diff = layers[index].z - mu_p
            scaled = diff * torch.exp(-logvar_p)  # (z - mu_p) / sigma_p^2
            log_p.append((diff * scaled).sum(-1).add_(logvar_p.sum(-1)).add_(width * LOG_2PI).mul_(-0.5))
            conditional_passes.append((diff, scaled, saved, features))
        z_top = layers[top].z
        log_p.append((z_top * z_top).sum(-1).add_(z_top.shape[-1] * LOG_2PI).mul_(-0.5))

        logits, dec_saved = forward_layers(self.decoder, self._decoder_in_place, layers[0].z)
        targets = x if k is None else x.expand(k, *x.shape).reshape(rows, -1)
        recon, residual = bernoulli_recon_and_residual(logits, targets)

        terms, coefficients = self._loss_terms(recon, log_q, log_p, layers[top], k, batch)
        # The backward runs over the draws with a share of the gradient (all but those that
        # --min-backward-weight's roulette leaves out): every per-draw tensor it reads is taken there.
        kept, c = None, coefficients.reshape(rows, 1)
        if type(self.objective) is IWAEObjective:
            kept, c_kept = kept_draws(coefficients, batch, self.min_backward_weight, self.roulette_seed, step)
            c = c_kept.unsqueeze(1)

        def at(t: torch.Tensor) -> torch.Tensor:
            return t if kept is None else t.index_select(0, kept)

        def saved_at(net_layers: list[DenseLayer], saved: Saved) -> Saved:
            return saved if kept is None else rows_of_saved(net_layers, saved, kept)

        # The gradient at each z_l, [N, L_l], bottom first: the decoder's at z_1, then each
        # conditional p(z_l|z_l+1) adds its value's term at z_l and gives z_l+1 its first.
        decoded = backward_layers(
            self.decoder,
            saved_at(self.decoder, dec_saved),
            at(residual).mul_(c),
            need_input_grad=True,
            grad_scale=-1.0,
            dtype=self.grad_dtype,
        )
        grad_z: list[torch.Tensor] = [decoded]  # type: ignore[list-item]
        for index, (net, (diff, scaled, saved, features)) in enumerate(zip(self.conditionals, conditional_passes, strict=True)):
            diff, scaled = at(diff), at(scaled)
            # d log p / d z_l = -scaled, d / d mu_p = scaled, d / d logvar_p = (diff * scaled - 1) / 2; times -c.
            grad_z[index].addcmul_(scaled, c)
            grad_heads = torch.cat([scaled * c, (diff * scaled).sub_(1.0).mul_(c).mul_(0.5)], dim=-1).neg_()
            grad_z.append(net.backward(grad_heads, saved_at(net.layers, saved), at(features), need_input_grad=True))  # type: ignore[arg-type]
        analytic_top = k is None
        if not analytic_top:
            grad_z[top].addcmul_(at(z_top), c)  # log p(z_L)'s -z_L, times -c

        for index in range(top, -1, -1):
            layer, grad = layers[index], grad_z[index]
            noise = at(layer.noise)
            if index == top and analytic_top:
                # KL(q(z_L) || N(0, I)) in closed form: d / d mu = mu, d / d logvar = (sigma^2 - 1) / 2.
                grad_mu = grad + layer.mu * c
                grad_logvar = (grad * noise).add_(torch.exp(layer.logvar).sub_(1.0).mul_(c)).mul_(0.5)
            elif index == 0 and k is not None:
                # Each example's k draws sum into its one mu and logvar.
                grad_mu = sum_draws(grad, k, batch, kept)
                grad_logvar = sum_draws(grad * noise, k, batch, kept)
                grad_logvar.sub_(sum_draws(c, k, batch, kept)).mul_(0.5)
            else:
                grad_mu = grad
                grad_logvar = (grad * noise).sub_(c).mul_(0.5)  # log q's -logvar / 2, times c
            grad_heads = torch.cat([grad_mu, grad_logvar], dim=-1)
            if index == 0:
                self.encoder.backward(grad_heads, layer.saved, layer.features, need_input_grad=False)
            else:
                net = self.upward[index - 1]
                below = net.backward(grad_heads, saved_at(net.layers, layer.saved), at(layer.features), need_input_grad=True)
                grad_z[index - 1].add_(below)
        return terms

    def _draw_layers(self, x: torch.Tensor, k: int | None, rows: int) -> list[_Layer]:
        """Run the inference path bottom-up, drawing every layer as the model's own pass does:
        ``k`` draws of z_1 per example (one when ``k`` is None), each upper layer once per row."""
        batch = x.shape[0]
        layers = []
        net_input, net = x, self.encoder
        for index in range(len(self.upward) + 1):
            if index:
                net_input, net = layers[-1].z, self.upward[index - 1]
            heads, saved, features = net.forward(net_input)
            width = net.latent
            mu, logvar = heads[:, :width], heads[:, width:]
            std = torch.exp(0.5 * logvar)
            # The draw shapes of the model's _trace ([k, B, L] with k), so the same noise.
            eps = standard_normal((batch, width) if k is None else (k, batch, width), mu)
            if index:
                eps = eps.reshape(rows, width)  # upper layers have a mu per row already
            noise = std * eps
            z = (mu + noise).reshape(rows, width)
            noise, eps = noise.reshape(rows, width), eps.reshape(rows, width)
            layers.append(_Layer(mu, logvar, eps, noise, z, saved, features))
        return layers

    def _loss_terms(
        self,
        recon: torch.Tensor,
        log_q: list[torch.Tensor],
        log_p: list[torch.Tensor],
        top: _Layer,
        k: int | None,
        batch: int,
    ) -> tuple[StepLoss, torch.Tensor]:
        """Return the objective's :class:`StepLoss` and each draw's weight c in the loss
        (``[B]``, or ``[k, B]`` with k draws)."""
        scale = 1.0 / batch  # the loss is a mean over the batch
        if k is None:
            kl_layers = [q - p for q, p in zip(log_q[:-1], log_p[:-1], strict=True)]
            kl_layers.append((top.mu * top.mu).add_(torch.exp(top.logvar)).sub_(1.0).sub_(top.logvar).sum(-1).mul_(0.5))
            per_layer = torch.stack(kl_layers, dim=-1)
            kl = per_layer.sum(-1)
            loss = (kl - recon).mean()
            return StepLoss(loss, recon, kl, per_layer), torch.full_like(recon, scale)
        shape = (k, batch)
        recon = recon.view(shape)
        total_q = torch.stack(log_q).sum(0).view(shape)
        total_p = torch.stack(log_p).sum(0).view(shape)
        per_layer = torch.stack([q - p for q, p in zip(log_q, log_p, strict=True)], dim=-1).view(k, batch, -1)
        log_weights = recon + total_p - total_q
        if type(self.objective) is IWAEObjective:
            bound = torch.logsumexp(log_weights, 0).sub_(math.log(k))
            terms = StepLoss(bound.mean().neg_(), recon[0], total_q[0] - total_p[0], per_layer[0])
            return terms, torch.softmax(log_weights, 0).mul_(scale)
        terms = StepLoss(log_weights.mean().neg_(), recon.mean(0), (total_q - total_p).mean(0), per_layer.mean(0))
        return terms, torch.full_like(log_weights, scale / k)

