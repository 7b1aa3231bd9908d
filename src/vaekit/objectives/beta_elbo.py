"""The beta-weighted ELBO with KL warm-up and free bits."""

from __future__ import annotations

from typing import Any

import torch

from vaekit.objectives.base import StepLoss, check_per_example, kl_layers_of, model_args, register_objective
from vaekit.objectives.schedules import WARMUPS, kl_weight


@register_objective("beta-elbo")
class BetaELBOObjective:
    """Minimise -E_q log p(x|z) + beta * w(step) * sum_j max(lambda, KL_j), where

    - ``beta`` weights the KL (Higgins et al. 2017; 1 is the ELBO, 0 an autoencoder with noise);
    - ``w(step)`` is the warm-up schedule (``warmup``: none, linear or cyclical, over
      ``warmup_steps`` optimizer steps);
    - ``free_bits`` lambda is a floor in nats on each latent dimension's KL averaged over the
      batch (Kingma et al. 2016): a dimension below it is not pushed further towards the prior.
      With a VampPrior the per-dimension KLs are those to the prior's marginals (see
      ``VampPrior.kl``), so free bits there floor an approximation; a hierarchical model floors
      every dimension of every layer (one-sample estimates where a layer's KL has no closed form).
    """

    requires_variational = True

    def __init__(
        self,
        beta: float = 1.0,
        warmup: str = "none",
        warmup_steps: int | None = None,
        free_bits: float = 0.0,
    ) -> None:
        self.beta = float(beta)
        self.warmup = warmup
        self.free_bits = float(free_bits)
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.free_bits < 0:
            raise ValueError(f"free_bits must be >= 0 nats, got {self.free_bits}")
        if self.warmup not in WARMUPS:
            raise ValueError(f"warmup must be one of {list(WARMUPS)}, got {self.warmup!r}")
        if self.warmup != "none" and (warmup_steps is None or warmup_steps < 1):
            raise ValueError(f"warmup {self.warmup!r} needs warmup_steps >= 1, got {warmup_steps}")
        if self.warmup == "cyclical" and warmup_steps < 2:
            # A cycle of one step sits at its start, weight 0, on every step: the KL would never count.
            raise ValueError(
                f"warmup 'cyclical' needs cycles of warmup_steps >= 2 (ramping up over the first half), got {warmup_steps}"
            )
        if self.warmup == "none" and warmup_steps is not None:
            raise ValueError("warmup_steps needs warmup linear or cyclical")
        self.warmup_steps = warmup_steps or 0

    def kl_weight(self, step: int) -> float:
        """Return beta * w(step), the weight of the KL term at optimizer step ``step``."""
        return self.beta * kl_weight(step, self.warmup, self.warmup_steps)

    def kl_per_dim_in_objective(self, kl_per_dim: torch.Tensor) -> torch.Tensor:
        """Return the KL of each latent dimension as the objective counts it, ``[L]`` nats:
        the batch mean, raised to the free-bits floor."""
        return kl_per_dim.mean(0).clamp(min=self.free_bits)

    def __call__(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None, step: int = 0) -> StepLoss:
        out = model(x, *model_args(model, y))
        check_per_example(out.recon_log_prob, x.shape[:1], model)
        if self.free_bits > 0:
            # A hierarchy's kl_per_dim is z_1's alone; kl_dims holds every layer's dimensions.
            per_dim = getattr(out, "kl_dims", None)
            kl_term = self.kl_per_dim_in_objective(out.kl_per_dim if per_dim is None else per_dim).sum()
        else:
            # The total KL: for a prior that does not factorise over dimensions (VampPrior) the
            # per-dimension values are diagnostics that need not add up to it.
            kl_term = out.kl.mean()
        loss = -out.recon_log_prob.mean() + self.kl_weight(step) * kl_term
        return StepLoss(loss, out.recon_log_prob, out.kl, kl_layers_of(out))
