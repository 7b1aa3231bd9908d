"""Training objectives computed from a model's output. Nats per example throughout."""

from __future__ import annotations

import torch

from vaekit.models.vae import VAEOutput


def elbo(output: VAEOutput) -> torch.Tensor:
    """Return the evidence lower bound per example, ``[B]``, in nats (higher is better):
    E_q[log p(x|z)] - KL(q(z|x) || p(z)), with a single-sample estimate of the first term."""
    return output.recon_log_prob - output.kl


def negative_elbo_loss(output: VAEOutput) -> torch.Tensor:
    """Return the training loss: -ELBO averaged over the batch, a scalar in nats per example."""
    return -elbo(output).mean()
