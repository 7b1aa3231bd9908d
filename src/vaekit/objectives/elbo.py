"""The evidence lower bound, and the reconstruction-only objective of the plain autoencoder."""

from __future__ import annotations

from typing import Any

import torch

from vaekit.objectives.base import StepLoss, check_per_example, kl_layers_of, model_args, register_objective


def elbo(output: Any) -> torch.Tensor:
    """Return the evidence lower bound per example, ``[B]``, in nats (higher is better):
    E_q[log p(x|z)] - KL(q(z|x) || p(z)), with a single-sample estimate of the first term."""
    return output.recon_log_prob - output.kl


def negative_elbo_loss(output: Any) -> torch.Tensor:
    """Return -ELBO averaged over the batch, a scalar in nats per example."""
    return -elbo(output).mean()


@register_objective("elbo")
class ELBOObjective:
    """Minimise -ELBO (Kingma & Welling 2014)."""

    requires_variational = True

    def __call__(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0) -> StepLoss:
        out = model(x, *model_args(model, y))
        check_per_example(out.recon_log_prob, x.shape[:1], model)
        return StepLoss(negative_elbo_loss(out), out.recon_log_prob, out.kl, kl_layers_of(out))


@register_objective("reconstruction")
class ReconstructionObjective:
    """Minimise -log p(x | decoder(encoder(x))) alone: the deterministic autoencoder's loss."""

    requires_variational = False

    def __call__(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0) -> StepLoss:
        out = model(x, *model_args(model, y))
        check_per_example(out.recon_log_prob, x.shape[:1], model)
        return StepLoss(-out.recon_log_prob.mean(), out.recon_log_prob, out.kl)
