"""Evaluation: importance-sampled NLL, ELBO terms, bits/dim and posterior diagnostics."""

from vaekit.evaluation.iwae import DEFAULT_K, log_likelihood_bound, log_likelihood_bounds
from vaekit.evaluation.metrics import bits_per_dim
from vaekit.evaluation.report import (
    evaluate_model,
    format_report,
    likelihood_is_exact,
    report_notes,
    report_rows,
    write_report,
)

__all__ = [
    "DEFAULT_K",
    "bits_per_dim",
    "evaluate_model",
    "format_report",
    "likelihood_is_exact",
    "log_likelihood_bound",
    "log_likelihood_bounds",
    "report_notes",
    "report_rows",
    "write_report",
]
