"""A hand-written training step for the most common VAE: MLP nets, N(0, I) prior, Bernoulli p(x|z).

Eager autograd spends much of a small MLP's training step outside its matmuls, recording a graph
of small ops and replaying it backwards. For the founding model (an MLP encoder giving ``(mu,
logvar)``, the reparameterised draw, an MLP decoder giving logits) the backward pass is short
enough to write out: this module computes the (beta-)ELBO and its gradients with the same
matmuls autograd would run, writing the gradients into each parameter's ``.grad``, with no
graph. The noise is drawn by the same call as :func:`vaekit.distributions.reparameterize`, so
both paths see the same draws; their gradients agree to float rounding (tested against autograd
for every supported activation). Runs it does not cover (see :func:`fused_step_unsupported`)
train through autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vaekit.distributions import StandardNormalPrior
from vaekit.distributions.likelihoods.bernoulli import BernoulliLikelihood
from vaekit.distributions.posterior import LOG_2PI
from vaekit.fast import kernels
from vaekit.fast.dense import DenseLayer, encoder_heads, mlp_layers
from vaekit.fast.dense_passes import (
    GRAD_DTYPES,
    backward_layers,
    backward_mm,
    bernoulli_recon_and_residual,
    forward_layers,
    in_place_forwards,
    kept_draws,
    layer_grad_dtype,
    rows_of_saved,
    sum_draws,
)
from vaekit.fast.families import ONE_LAYER_FAMILIES, family_unsupported
from vaekit.fast.fused_hierarchy import FusedHierarchyStep, hierarchy_unsupported
from vaekit.models.hierarchical import HierarchicalGaussianVAE
from vaekit.models.vae import VAE
from vaekit.objectives.base import StepLoss
from vaekit.objectives.beta_elbo import BetaELBOObjective
from vaekit.objectives.elbo import ELBOObjective
from vaekit.objectives.iwae import IWAEObjective, MultiSampleELBOObjective
from vaekit.runtime.batch_shard import standard_normal


def fused_step_unsupported(model: nn.Module, objective: Any, precision: str = "fp32", compile: bool = False) -> str | None:
    """Return why the fused step cannot train this run, or None when it can.

    The fused step covers the built-in :class:`~vaekit.models.vae.VAE` classes by exact type
    (``vae``, ``iwae``, or ``beta-vae`` without free bits, see
    :data:`~vaekit.fast.families.ONE_LAYER_FAMILIES`: a subclass may override a pass the step
    would leave out, so it trains through its objective), trained on the ELBO, the beta-ELBO,
    the IWAE bound or the k-sample ELBO,
    with an MLP :class:`GaussianEncoder` and :class:`MLPDecoder` (Linear layers and
    relu/tanh/elu/gelu/silu/leaky_relu, no normalisation, no condition), the N(0, I) prior, the
    Bernoulli likelihood, in float32 (or ``bf16-grad``: float32 with bfloat16 backward matmuls)
    without ``torch.compile``; and Burda et al.'s ``hvae`` under
    :func:`~vaekit.fast.fused_hierarchy.hierarchy_unsupported`'s terms.
    """
    if not kernels.private_kernels_available():
        return f"torch {torch.__version__} lacks the ATen backward kernels the fused step calls"
    if precision not in GRAD_DTYPES:
        return f"precision {precision} (the fused step is float32, or bf16-grad)"
    if compile:
        return "--compile (compiling fuses the autograd step itself)"
    if type(model) is HierarchicalGaussianVAE:
        return hierarchy_unsupported(model, objective)
    reason = family_unsupported(model, ONE_LAYER_FAMILIES)
    if reason is not None:
        return reason
    if getattr(model, "conditional", False):
        return f"model {type(model).__name__} is conditional"
    if getattr(model, "own_log_weights", False):
        return f"model {type(model).__name__} has an IAF posterior (model.flow_steps)"
    if type(objective) is BetaELBOObjective:
        if objective.free_bits > 0:
            return "free bits"
    elif type(objective) not in (ELBOObjective, IWAEObjective, MultiSampleELBOObjective):
        return f"objective {type(objective).__name__}"
    if type(model.prior) is not StandardNormalPrior:
        return f"prior {type(model.prior).__name__}"
    if type(model.likelihood) is not BernoulliLikelihood:
        return f"likelihood {type(model.likelihood).__name__}"
    for part in (mlp_layers(model.encoder), mlp_layers(model.decoder)):
        if isinstance(part, str):
            return part
    return None


class FusedVAEStep:
    """The (beta-)ELBO, IWAE bound or k-sample ELBO of a batch and its gradients for a model
    :func:`fused_step_unsupported` accepts, computed without autograd.

    Calling it with a batch ``x`` ``[B, D]`` (float, on the model's device) writes d loss / d theta
    into every parameter's ``.grad`` and returns the :class:`StepLoss` the autograd objective
    would: the loss (a 0-d tensor, nats per example) and per-example ``recon`` (E_q log p(x|z))
    and ``kl``, ``[B]`` nats, all detached. The backward's matmuls read ``grad_dtype``
    (:func:`~vaekit.fast.dense_passes.backward_mm`); under IWAE, draws whose normalised weight is
    below ``min_backward_weight`` play Russian roulette for their backward pass
    (:func:`~vaekit.fast.dense_passes.kept_draws`, seeded by ``roulette_seed`` and the step).
    """

    def __init__(
        self,
        model: VAE,
        objective: Any,
        grad_dtype: torch.dtype | None = None,
        min_backward_weight: float = 0.0,
        roulette_seed: int = 0,
    ) -> None:
        reason = fused_step_unsupported(model, objective)
        if reason is not None:
            raise ValueError(f"the fused step cannot train this model: {reason}")
        self.objective, self.grad_dtype = objective, grad_dtype
        self.min_backward_weight, self.roulette_seed = min_backward_weight, roulette_seed
        self.encoder: list[DenseLayer] = mlp_layers(model.encoder)  # type: ignore[assignment]
        self.decoder: list[DenseLayer] = mlp_layers(model.decoder)  # type: ignore[assignment]
        self._encoder_in_place = in_place_forwards(self.encoder)
        self._decoder_in_place = in_place_forwards(self.decoder)
        self.mu, self.logvar = encoder_heads(model.encoder)
        covered = {id(p) for d in self.encoder + self.decoder for p in d.linear.parameters()}
        covered |= {id(p) for p in (*self.mu.parameters(), *self.logvar.parameters())}
        weight = torch.cat([self.mu.weight, self.logvar.weight]).detach()
        self._head_grads = torch.empty_like(weight), torch.empty(len(weight), dtype=weight.dtype, device=weight.device)
        latent = self.mu.out_features
        # The halves of the buffers that are each head's .grad: made once, set every step
        # (zero_grad(set_to_none=True) may have cleared them).
        self._head_grad_halves = tuple(g[half] for g in self._head_grads for half in (slice(latent), slice(latent, None)))
        missing = [name for name, p in model.named_parameters() if id(p) not in covered]
        if missing:
            raise ValueError(f"the fused step would not train parameters {missing}")

    def _heads_backward(self, grad_heads: torch.Tensor, h: torch.Tensor, head_weight: torch.Tensor) -> torch.Tensor:
        """Write the gradients of both heads with one matmul into one buffer whose halves are
        the ``mu`` and ``logvar`` layers' ``.grad``; return d loss / d ``h``."""
        weight_grad, bias_grad = self._head_grads
        mu, logvar = self.mu, self.logvar
        dtype = layer_grad_dtype(self.grad_dtype, grad_heads.shape[0], head_weight)
        factor = grad_heads if dtype is None else grad_heads.to(dtype)
        backward_mm(factor.t(), h, dtype, out=weight_grad)
        torch.sum(grad_heads, 0, out=bias_grad)
        mu.weight.grad, logvar.weight.grad, mu.bias.grad, logvar.bias.grad = self._head_grad_halves
        return backward_mm(factor, head_weight, dtype)

    def kl_weight(self, step: int) -> float:
        """Return the KL term's weight at optimizer step ``step`` (1 for the plain ELBO)."""
        return self.objective.kl_weight(step) if isinstance(self.objective, BetaELBOObjective) else 1.0

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, step: int = 0) -> StepLoss:
        batch = x.shape[0]
        scale = 1.0 / batch  # the loss is a mean over the batch
        beta = self.kl_weight(step)

        h, enc_saved = forward_layers(self.encoder, self._encoder_in_place, x)
        # Both heads as one matmul: [B, H] @ [H, 2L] costs about what one [H, L] head does.
        head_weight = torch.cat([self.mu.weight, self.logvar.weight])
        heads = torch.addmm(torch.cat([self.mu.bias, self.logvar.bias]), h, head_weight.t())
        latent = self.mu.out_features
        if isinstance(self.objective, (IWAEObjective, MultiSampleELBOObjective)):
            grad_heads, terms = self._multi_sample_terms(x, heads, step)
            grad_h = self._heads_backward(grad_heads, h, head_weight)
            backward_layers(self.encoder, enc_saved, grad_h, need_input_grad=False, dtype=self.grad_dtype)
            return terms
        mu, logvar = heads[:, :latent], heads[:, latent:]
        std = torch.exp(0.5 * logvar)
        # The same draw and the same ops as distributions.reparameterize: the same z, bit for bit.
        eps = standard_normal(mu.shape, mu)
        noise = std * eps
        z = mu + noise
        logits, dec_saved = forward_layers(self.decoder, self._decoder_in_place, z)

        # d loss / d logits = -scale * residual: the scale goes into the backward's first matmuls.
        recon, residual = bernoulli_recon_and_residual(logits, x)
        # KL_j = (mu_j^2 + var_j - 1 - logvar_j) / 2; var - 1 serves the gradient too.
        var_minus_1 = (std * std).sub_(1.0)
        kl = torch.sub(var_minus_1, logvar).addcmul_(mu, mu).sum(-1).mul_(0.5)
        loss = torch.add(recon, kl, alpha=-beta).sum().mul_(-scale)  # (beta * KL - recon), batch mean

        grad_z = backward_layers(
            self.decoder, dec_saved, residual, need_input_grad=True, grad_scale=-scale, dtype=self.grad_dtype
        )
        # z = mu + exp(logvar / 2) * eps, so dz/dlogvar = noise / 2.
        grad_heads = torch.empty_like(heads)
        torch.add(grad_z, mu, alpha=beta * scale, out=grad_heads[:, :latent])
        grad_logvar = grad_heads[:, latent:]
        torch.mul(var_minus_1, 0.5 * beta * scale, out=grad_logvar)
        grad_logvar.addcmul_(grad_z, noise, value=0.5)
        grad_h = self._heads_backward(grad_heads, h, head_weight)
        backward_layers(self.encoder, enc_saved, grad_h, need_input_grad=False, dtype=self.grad_dtype)
        return StepLoss(loss, recon, kl)

    def _multi_sample_terms(self, x: torch.Tensor, heads: torch.Tensor, step: int = 0) -> tuple[torch.Tensor, StepLoss]:
        """Decode k draws per example, write the decoder's gradients, and return d loss / d heads
        ``[B, 2L]`` with the objective's :class:`StepLoss` (as :mod:`vaekit.objectives.iwae` gives it).

        Both objectives are sums of the log weights log w_k = log p(x|z_k) + log p(z_k) - log
        q(z_k|x) with coefficients c_k (the normalised weights over B for IWAE, 1 / (kB) for the
        k-sample ELBO). Through z_k = mu + sigma eps_k, with log q's own dependence on mu and
        log sigma^2 included, d loss / d mu = sum_k g_k and d loss / d logvar = sum_k (sigma
        eps_k g_k - c_k) / 2, where g_k = -c_k d log p(x, z) / dz at z_k: log q's path and score
        terms in eps_k cancel, so the backward needs only the decoder's gradient and z_k."""
        batch, k, latent = x.shape[0], self.objective.k, self.mu.out_features
        mu, logvar = heads[:, :latent], heads[:, latent:]
        std = torch.exp(0.5 * logvar)
        # The draw of distributions.reparameterize(mu, logvar, n_samples=k): the same z.
        eps = standard_normal((k, *mu.shape), mu)
        noise = std * eps
        z = mu + noise  # [K, B, L]
        logits, dec_saved = forward_layers(self.decoder, self._decoder_in_place, z.view(k * batch, latent))
        recon, residual = bernoulli_recon_and_residual(logits, x.expand(k, *x.shape).reshape(k * batch, -1))
        recon = recon.view(k, batch)
        log_prior = (z * z).sum(-1).add_(latent * LOG_2PI).mul_(-0.5)
        log_posterior = (eps * eps).sum(-1).add_(logvar.sum(-1)).add_(latent * LOG_2PI).mul_(-0.5)
        log_weights = recon + log_prior - log_posterior  # [K, B]
        scale = 1.0 / batch  # the loss is a mean over the batch
        if isinstance(self.objective, IWAEObjective):
            bound = torch.logsumexp(log_weights, 0).sub_(math.log(k))
            terms = StepLoss(bound.mean().neg_(), recon[0], log_posterior[0] - log_prior[0])
            coefficients = torch.softmax(log_weights, 0).mul_(scale)
        else:
            kl = (log_posterior - log_prior).mean(0)
            terms = StepLoss(log_weights.mean(0).mean().neg_(), recon.mean(0), kl)
            coefficients = torch.full_like(log_weights, scale / k)
        # The backward runs over the draws with a share of the gradient (all but those that
        # min_backward_weight's roulette leaves out), every per-draw tensor taken at those rows.
        kept, c = None, coefficients.view(k * batch)
        if isinstance(self.objective, IWAEObjective):
            kept, c = kept_draws(coefficients, batch, self.min_backward_weight, self.roulette_seed, step)
        c = c.unsqueeze(1)
        rows, z_rows, noise_rows = residual, z.view(k * batch, latent), noise.view(k * batch, latent)
        if kept is not None:
            rows, z_rows, noise_rows = (t.index_select(0, kept) for t in (residual, z_rows, noise_rows))
            dec_saved = rows_of_saved(self.decoder, dec_saved, kept)
        # d loss / d logits = -c_k * residual; the sign rides on the backward's first matmuls.
        grad_z = backward_layers(
            self.decoder, dec_saved, rows.mul_(c), need_input_grad=True, grad_scale=-1.0, dtype=self.grad_dtype
        )
        grad_z.addcmul_(z_rows, c)  # log p(z)'s -z, times -c_k
        grad_heads = torch.empty_like(heads)
        grad_heads[:, :latent] = sum_draws(grad_z, k, batch, kept)
        grad_logvar = grad_heads[:, latent:]
        grad_logvar.copy_(sum_draws(grad_z.mul_(noise_rows), k, batch, kept))
        grad_logvar.sub_(sum_draws(c, k, batch, kept)).mul_(0.5)
        return grad_heads, terms


class FusedTrainingStep:
    """One training step through :class:`FusedVAEStep`: the batch's loss and gradients, then
    gradient clipping (when ``grad_clip`` is set) and ``optimizer_step``; ``reduce_gradients``
    (a distributed run's) combines the ranks' gradients and loss terms first; ``grad_dtype`` is what
    the backward's matmuls read, and IWAE draws whose normalised weight is below
    ``min_backward_weight`` play its roulette (seeded by ``roulette_seed`` and the step). Called
    once per batch as ``step(x, y, step_index)``, it returns the batch's detached :class:`StepLoss`."""

    name = "fused"

    def __init__(
        self,
        model: VAE,
        objective: Any,
        optimizer_step: Callable[[], None],
        grad_clip: float | None = None,
        reduce_gradients: Callable[[StepLoss], StepLoss] | None = None,
        grad_dtype: torch.dtype | None = None,
        min_backward_weight: float = 0.0,
        roulette_seed: int = 0,
    ) -> None:
        steps = FusedHierarchyStep if type(model) is HierarchicalGaussianVAE else FusedVAEStep
        self.gradients: FusedVAEStep | FusedHierarchyStep = steps(
            model, objective, grad_dtype, min_backward_weight, roulette_seed  # type: ignore[arg-type]
        )
        self.parameters = list(model.parameters())
        self.optimizer_step, self.grad_clip = optimizer_step, grad_clip
        self.reduce_gradients = reduce_gradients

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> StepLoss:
        terms = self.gradients(x, step)  # writes every parameter's .grad
        if self.reduce_gradients is not None:
            terms = self.reduce_gradients(terms)  # before clipping, which must see the whole batch's
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        self.optimizer_step()
        return terms
