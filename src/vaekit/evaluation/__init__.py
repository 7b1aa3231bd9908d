"""Evaluation: ELBO terms, bits/dim (and, later, importance-sampled NLL and diagnostics)."""

from vaekit.evaluation.metrics import bits_per_dim, elbo_report

__all__ = ["bits_per_dim", "elbo_report"]
