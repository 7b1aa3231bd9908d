"""The evaluation report: NLL, ELBO terms, bits/dim and diagnostics of a model on one split,
assembled under the library's honesty rules, and its table and file forms.

Honesty rules (see docs/likelihoods.md):

- numbers are nats per example (sums over the D dimensions, means over examples); ``bpd`` is
  nats / (D ln 2); each sign is in the name (``nll`` lower is better, ``elbo`` higher is better);
- a likelihood that is not a normalised density/mass for the evaluated data (Bernoulli on grey
  levels, a Gaussian density on discrete pixels) never yields a number called ``nll``, ``elbo``
  or ``bpd``: its terms are reported as a ``loss`` with a note saying why, and asking for its
  NLL explicitly raises ``ConfigError`` naming the fix;
- with uniform dequantisation the reported numbers bound the discrete data: D log(levels) nats
  are added to the continuous NLL (subtracted from the ELBO).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from vaekit.data.views import EvaluationExamples
from vaekit.distributions.likelihoods.base import likelihood_is_exact
from vaekit.evaluation.diagnostics import (
    ACTIVE_UNIT_THRESHOLD,
    ColumnMoments,
    add_layer_diagnostics,
    count_active_units,
    layer_parts,
    posterior_mean_variance,
    probe_accuracy,
    report_collapse_note,
)
from vaekit.evaluation.iwae import DEFAULT_K, DEFAULT_MAX_CHUNK_ELEMENTS, log_likelihood_bounds, nll_path
from vaekit.evaluation.metrics import bits_per_dim
from vaekit.runtime.errors import ConfigError
from vaekit.runtime.memory import release_free_heap
from vaekit.runtime.progress import work_progress


def not_a_likelihood_reason(likelihood: Any, value_range: str | None, dequantize: str = "none") -> str:
    """Return why ``likelihood`` is not a likelihood of this data, and how to get an honest NLL."""
    name = likelihood.name
    if not likelihood.exact_for:
        return (
            f"the {name} likelihood declares no data it is a normalised density for (its exact_for is empty): "
            "if its log_prob is one, set exact_for = frozenset({'real'}) (or 'unit', 'binary') in its class "
            "(docs/extending.md) and evaluate again; no retraining is needed"
        )
    if dequantize == "uniform":
        return (
            f"the {name} likelihood is not a density on the real line, so it gives no bound for "
            "dequantised data; retrain with --likelihood gaussian (or another continuous density)"
        )
    if name == "bernoulli" and value_range == "unit":
        return (
            "a Bernoulli likelihood of grey levels is a cross-entropy loss, not a likelihood of the data; "
            "for an NLL of binarised images (as the literature's binarised-MNIST NLL) retrain with --binarize "
            "dynamic, for one of the grey levels use a discretised likelihood (--likelihood "
            "discretized-logistic) or a continuous one with --dequantize uniform (e.g. --likelihood gaussian "
            "--dequantize uniform)"
        )
    if value_range == "unit":
        return (
            f"a {name} density of discrete grey levels is not a likelihood (a density can exceed 1 at a "
            "point); retrain with --dequantize uniform (or use a discretised likelihood) so that NLL and "
            "bits/dim bound the discrete data"
        )
    return (
        f"the {name} likelihood is a normalised likelihood only for {sorted(likelihood.exact_for)} data, "
        f"not for this {value_range} data; retrain with a likelihood that fits it "
        "(e.g. --likelihood gaussian for real values)"
    )


def _resolve_k(k: int | None, exact: bool, variational: bool, reason: str) -> tuple[int, str | None]:
    """Return the number of importance samples to use (0: none) and why none, if so."""
    if k is not None and k < 0:
        raise ConfigError(f"--k (k= in Python) must be >= 1, or 0 to skip the NLL, got {k}")
    if not variational:
        if k:
            raise ConfigError(
                "this is a deterministic autoencoder: it has no likelihood, so no NLL or ELBO; "
                "leave --k out to get its reconstruction error"
            )
        return 0, "a deterministic autoencoder has no likelihood: only reconstruction error is reported"
    if not exact:
        if k:
            raise ConfigError(f"refusing to report an NLL: {reason}; or leave out --k (k=None) for the loss and its terms without an NLL")
        return 0, reason
    if k is None:
        return DEFAULT_K, None
    return k, (None if k else "skipped (k = 0)")


def _stderr(values: torch.Tensor) -> float:
    """Standard error of the mean of ``values`` (0 for fewer than two)."""
    if len(values) < 2:
        return 0.0
    return float(values.double().std(unbiased=True).item() / math.sqrt(len(values)))


@torch.inference_mode()
def _posterior_pass(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, variational: bool
) -> dict[str, torch.Tensor]:
    """One pass over ``x``: posterior means, single-sample ELBO terms per example, the KL of
    each latent dimension, and each example's squared error of the reconstruction through the
    posterior mean (summed over dimensions, float64; the reconstructions themselves are not
    kept: for MNIST's test set they would be 31 MB, and their float64 difference four times that)."""
    conditional = getattr(model, "conditional", False)
    parts: dict[str, list[torch.Tensor]] = {"mu": [], "recon": [], "kl": [], "kl_per_dim": [], "sq_err": []}
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        cond = (y[start : start + batch_size],) if conditional else ()
        if variational:
            out = model(xb, *cond)
            mu = out.mu
            parts["recon"].append(out.recon_log_prob.double().cpu())
            parts["kl"].append(out.kl.double().cpu())
            parts["kl_per_dim"].append(out.kl_per_dim.double().sum(0, keepdim=True).cpu())
            for key, value in layer_parts(out).items():  # hierarchical models: per-layer KL and codes
                parts.setdefault(key, []).append(value)
        else:
            mu, _ = model.encode(xb, *cond)
        parts["mu"].append(mu.cpu())
        x_hat = model.likelihood.mean(model.decode(mu, *cond)).reshape(len(xb), -1)
        parts["sq_err"].append((xb.double() - x_hat.double()).pow(2).sum(1).cpu())
    return {key: torch.cat(value) for key, value in parts.items() if value}


def evaluate_model(
    model: torch.nn.Module,
    x: torch.Tensor | EvaluationExamples,
    *,
    labels: torch.Tensor | None = None,
    probe_data: tuple[torch.Tensor | Iterable[torch.Tensor], torch.Tensor] | None = None,
    value_range: str | None,
    dequantize: str = "none",
    levels: int | None = None,
    is_image: bool = False,
    k: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    progress: str = "quiet",
    fast: str = "auto",
) -> dict[str, Any]:
    """Evaluate ``model`` on the examples ``x`` ``[N, D]`` (in model units: binarised or
    dequantised as in training) and return the report as a dict of JSON-able values.

    ``k``: importance samples of the NLL; ``None`` uses 5000 when the likelihood is exact for the
    data and skips the NLL otherwise; ``0`` skips it; an explicit ``k`` on data the likelihood is
    not exact for raises ``ConfigError``. ``labels`` are the conditions of a conditional model and
    the targets of the linear probe, which is fitted on ``probe_data`` (the train split's
    examples, or an iterable of their batches so that the split is never whole in float32,
    and labels). Nats per example throughout; ``bpd`` in bits per dimension.
    ``x`` may be a split left on disk (``EvaluationExamples``, with its labels): it is read
    ``EVAL_BLOCK_VALUES`` values at a time, giving the numbers a tensor would (the NLL's draws
    are seeded per block: the same bound, other samples, when there is more than one block).
    Sampling is seeded by ``seed`` and leaves the global RNG as it was. ``fast="off"``
    computes the NLL with the generic chunk even where the fused one applies (the report's
    ``nll_path`` says which ran; both give the same bound to float rounding).
    """
    if len(x) == 0:
        raise ConfigError("there are no examples to evaluate")
    device = next(model.parameters()).device
    lazy = isinstance(x, EvaluationExamples)
    if not lazy:
        x = x.to(device)
    likelihood = model.likelihood
    variational = getattr(model, "variational", True)
    conditional = getattr(model, "conditional", False)
    if conditional and labels is None and not (lazy and x.labelled):
        raise ConfigError("this conditional model needs labels to evaluate; evaluate the test or train split")
    y = labels.to(device) if conditional and labels is not None else None
    exact = likelihood_is_exact(likelihood, value_range, dequantize)
    reason = not_a_likelihood_reason(likelihood, value_range, dequantize) if not exact else ""
    k_used, skipped = _resolve_k(k, exact, variational, reason)
    dim = x.shape[1]
    if dequantize == "uniform" and not levels:
        raise ValueError("dequantised data need their number of grey levels (levels) to bound the discrete data")
    offset = dim * math.log(levels) if dequantize == "uniform" else 0.0
    was_training = model.training
    model.eval()

    report: dict[str, Any] = {
        "units": "nats per example (sum over dimensions, mean over examples); bpd in bits per dimension",
        "n_examples": len(x),
        "dim": dim,
        "latent_dim": int(model.latent_dim),
        "likelihood": likelihood.name,
        "exact_likelihood": bool(exact and variational),
        "variational": bool(variational),
        "k": k_used,
        "seed": seed,
    }
    if not k_used:
        report["nll_skipped"] = skipped
    if dequantize == "uniform":
        report["dequantization"] = {"kind": "uniform", "levels": levels, "offset_nats": offset}
    seconds: dict[str, float] = {}
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            started = time.perf_counter()
            wants_probe = probe_data is not None and labels is not None and not conditional
            passed = _posterior_pass_blocks(model, x, y, max(batch_size or 0, 1000), variational, keep_codes=wants_probe)
            seconds["elbo"] = time.perf_counter() - started
        terms = example_terms(passed, offset)
        sq_err = passed.get("sq_err")
        report["recon_mse"] = float(sq_err.sum().item() / x.numel()) if sq_err is not None else terms["sq_err"][0] / dim
        if variational:
            _add_elbo_terms(report, passed, terms, reason=reason, is_image=is_image, dim=dim)
            variance = posterior_mean_variance(passed["mu"])
            report["active_units"] = count_active_units(passed["mu"])
            report["active_units_threshold"] = ACTIVE_UNIT_THRESHOLD
            report["posterior_mean_variance"] = [float(v) for v in variance]
            add_layer_diagnostics(report, passed)
        if k_used:
            started = time.perf_counter()
            if lazy:
                bounds, report["nll_path"] = _nll_bounds_blocks(
                    model, x, k_used, batch_size, max_chunk_elements, seed, progress, fast
                )
            else:
                bounds = _nll_bounds(model, x, y, k_used, batch_size, max_chunk_elements, seed, progress, fast)
                report["nll_path"] = nll_path(model, x, fast)
            nll = offset - bounds
            seconds["nll"] = time.perf_counter() - started
            report["nll"] = float(nll.mean().item())
            report["nll_stderr"] = _stderr(nll)
            if is_image:
                report["bpd"] = bits_per_dim(report["nll"], dim)
                report["bpd_stderr"] = bits_per_dim(report["nll_stderr"], dim)
        if probe_data is not None and labels is not None and not conditional:
            started = time.perf_counter()
            train_x, train_y = probe_data
            if isinstance(train_x, torch.Tensor):
                train_mu = _posterior_means(model, train_x.to(device), batch_size=max(batch_size or 0, 1000))
            else:
                train_mu = torch.cat([_posterior_means(model, xb.to(device), batch_size=len(xb)) for xb in train_x])
            report["probe"] = probe_accuracy(
                train_mu.numpy(), train_y.numpy(), passed["mu"].numpy(), labels.cpu().numpy(), seed=seed
            )
            seconds["probe"] = time.perf_counter() - started
    finally:
        model.train(was_training)
    report["seconds"] = seconds
    return report


#: values of a split left on disk read (in float32) at a time by ``evaluate_model``
EVAL_BLOCK_VALUES = 1 << 22


def _block_rows(x: EvaluationExamples, multiple: int) -> int:
    """Rows per block of ``x``: about ``EVAL_BLOCK_VALUES`` values, a multiple of ``multiple``
    so that batches cut from blocks are the batches cut from the whole."""
    rows = EVAL_BLOCK_VALUES // max(1, int(x.shape[1]))
    return max(multiple, rows // multiple * multiple)


def _posterior_pass_blocks(
    model: torch.nn.Module,
    x: torch.Tensor | EvaluationExamples,
    y: torch.Tensor | None,
    batch_size: int,
    variational: bool,
    keep_codes: bool = False,
) -> dict[str, Any]:
    """``_posterior_pass`` over ``x``, a tensor or a split read block by block (the same
    batches, so the same global draws and results).

    A split read by blocks is never held whole, not even as numbers per example: its posterior
    codes (``mu``, ``layer_mu_<l>``, unless ``keep_codes``) and per-layer KLs (``kl_layers``)
    come as their :class:`ColumnMoments`, and the terms per example (``recon``, ``kl``, their
    difference the ELBO, ``sq_err``) as the moments of each, under ``terms`` (see
    :func:`example_terms`), in place of the tensors."""
    if not isinstance(x, EvaluationExamples):
        return _posterior_pass(model, x, y, batch_size=batch_size, variational=variational)
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {}
    moments: dict[str, ColumnMoments] = {}
    terms: dict[str, ColumnMoments] = {}
    for xb, yb in x.blocks(_block_rows(x, batch_size)):
        cond = yb.to(device) if yb is not None and getattr(model, "conditional", False) else None
        passed = _posterior_pass(model, xb.to(device), cond, batch_size, variational)
        del xb, yb, cond
        release_free_heap()
        if "recon" in passed:
            passed["elbo"] = passed["recon"] - passed["kl"]
        for key, value in passed.items():
            if key in EXAMPLE_TERMS:
                terms.setdefault(key, ColumnMoments()).add(value.unsqueeze(1))
            elif ((key == "mu" or key.startswith("layer_mu_")) and not keep_codes) or key == "kl_layers":
                moments.setdefault(key, ColumnMoments()).add(value)
            else:
                parts.setdefault(key, []).append(value)
    return {**{key: torch.cat(value) for key, value in parts.items()}, **moments, "terms": terms}


#: the numbers per example a pass over a split read by blocks keeps as moments
EXAMPLE_TERMS = ("recon", "kl", "elbo", "sq_err")


def example_terms(passed: dict[str, Any], offset: float = 0.0) -> dict[str, tuple[float, float, int]]:
    """Return, for each of ``EXAMPLE_TERMS`` in ``passed`` (the output of
    :func:`_posterior_pass_blocks`), its mean over the examples, the standard error of that
    mean (0 for fewer than two examples) and the count; ``offset`` (nats) is subtracted from
    ``recon`` and ``elbo`` (a dequantised model's bound on the discrete data)."""
    out: dict[str, tuple[float, float, int]] = {}
    for key in EXAMPLE_TERMS:
        shift = offset if key in ("recon", "elbo") else 0.0
        if "terms" in passed and key in passed["terms"]:
            moments = passed["terms"][key]
            n = moments.n
            stderr = math.sqrt(float(moments.m2[0]) / (n - 1) / n) if n > 1 else 0.0
            out[key] = (float(moments.mean[0]) - shift, stderr, n)
        elif key == "elbo" and "recon" in passed:
            values = passed["recon"] - shift - passed["kl"]
            out[key] = (float(values.mean().item()), _stderr(values), len(values))
        elif key in passed:
            values = passed[key] - shift if shift else passed[key]
            out[key] = (float(values.mean().item()), _stderr(values), len(values))
    return out


def _nll_bounds_blocks(
    model: torch.nn.Module,
    x: EvaluationExamples,
    k: int,
    batch_size: int | None,
    max_chunk_elements: int,
    seed: int,
    progress: str,
    fast: str,
) -> tuple[torch.Tensor, str]:
    """The K-sample bound of every example of a split read block by block ``[N]`` (nats),
    each block's draws seeded by ``seed`` and its index; and the NLL path ("fused" when every
    block took the fused chunk)."""
    device = next(model.parameters()).device
    conditional = getattr(model, "conditional", False)
    bounds, paths = [], set()
    for index, (xb, yb) in enumerate(x.blocks(_block_rows(x, 1000))):
        xb = xb.to(device)
        yb = yb.to(device) if yb is not None and conditional else None
        block_seed = seed + index * 1_000_003
        bounds.append(_nll_bounds(model, xb, yb, k, batch_size, max_chunk_elements, block_seed, progress, fast))
        paths.add(nll_path(model, xb, fast))
        del xb, yb
        release_free_heap()
    return torch.cat(bounds), ("fused" if paths == {"fused"} else "generic")


def _nll_bounds(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None,
    k: int,
    batch_size: int | None,
    max_chunk_elements: int,
    seed: int,
    progress: str,
    fast: str = "auto",
) -> torch.Tensor:
    """The K-sample bound of every example ``[N]`` (nats), with a progress bar if asked."""
    bar = work_progress(len(x), progress, f"NLL, K={k}", unit="ex")
    try:
        return log_likelihood_bounds(
            model,
            x,
            k,
            y=y,
            batch_size=batch_size,
            max_chunk_elements=max_chunk_elements,
            seed=seed,
            on_batch=bar.update if bar is not None else None,
            fast=fast,
            sharded=True,  # split over the processes of a distributed evaluation, if any
        )
    finally:
        if bar is not None:
            bar.close()


@torch.inference_mode()
def _posterior_means(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model.encode(x[s : s + batch_size])[0].cpu() for s in range(0, len(x), batch_size)])


def _add_elbo_terms(
    report: dict[str, Any],
    passed: dict[str, Any],
    terms: dict[str, tuple[float, float, int]],
    *,
    reason: str,
    is_image: bool,
    dim: int,
) -> None:
    """Add the single-sample ELBO terms (``terms``: :func:`example_terms`): as ``elbo`` when
    the likelihood is exact (``reason`` empty), else as a loss with ``reason`` as the note."""
    (recon, _, n), (kl, _, _), (elbo, elbo_stderr, _) = terms["recon"], terms["kl"], terms["elbo"]
    report["kl"] = kl
    report["kl_per_dim"] = [float(v) for v in passed["kl_per_dim"].sum(0) / n]
    if not reason:
        report["elbo"] = elbo
        report["elbo_stderr"] = elbo_stderr
        report["recon"] = recon
        if is_image:
            report["neg_elbo_bpd"] = bits_per_dim(-report["elbo"], dim)
    else:
        report["loss"] = -elbo
        report["loss_stderr"] = elbo_stderr
        report["recon_loss"] = -recon
        report["note"] = f"these are training-loss values (reconstruction loss + KL), not an ELBO or NLL: {reason}"


def weights_label(report: dict[str, Any]) -> str:
    """Return which weights an evaluation record is of, in words: "last weights", with "of epoch
    N" where the record says when they were saved."""
    label = f"{report.get('weights', 'last')} weights"
    return label + (f" of epoch {report['weights_epoch']}" if report.get("weights_epoch") is not None else "")


def report_filename(report: dict[str, Any], own_data: bool = True) -> str:
    """Return the report's file name: ``eval-<split>-k<K>.json`` (``eval-<split>.json`` without
    an NLL), with the data's name first when it is not the run's own and ``-best`` for the best
    weights."""
    parts = ["eval"]
    if not own_data:
        parts.append(re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(report.get("data", "data"))).name).strip("._") or "data")
    parts.append(str(report.get("split", "test")))
    if report.get("k"):
        parts.append(f"k{report['k']}")
    if report.get("weights") == "best":
        parts.append("best")
    return "-".join(parts) + ".json"


def write_report(run_dir: str | Path, report: dict[str, Any], own_data: bool = True) -> Path:
    """Write ``report`` as JSON into ``run_dir`` atomically, holding the run folder's lock;
    return the file's path. Raises ``RunFolderLockedError`` while another process writes the
    folder (a training), and a ``WriteError`` when the folder is read-only or the disk full."""
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.runtime.lock import run_folder_lock

    path = Path(run_dir) / report_filename(report, own_data)
    with run_folder_lock(Path(run_dir), "evaluate"):
        atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    return path


def report_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the report's metrics as ``(label, value with its unit)`` rows, in the order and
    words of ``vaekit evaluate`` (the HTML run report shows the same rows)."""
    rows: list[tuple[str, str]] = [("examples", str(report["n_examples"]))]
    if "nll" in report:
        rows.append(
            (
                f"NLL (K={report['k']})",
                f"{report['nll']:.4f} ± {report['nll_stderr']:.4f} nats/example "
                "(-log p(x), importance-weighted bound; lower is better; ± one standard error)",
            )
        )
        if "bpd" in report:
            rows.append(("bits/dim", f"{report['bpd']:.5f} ± {report['bpd_stderr']:.5f}"))
    if "elbo" in report:
        rows.append(("ELBO", f"{report['elbo']:.4f} ± {report['elbo_stderr']:.4f} nats/example (higher is better)"))
        rows.append(("reconstruction E_q log p(x|z)", f"{report['recon']:.4f} nats/example"))
    if "loss" in report:
        rows.append(("loss (not a likelihood)", f"{report['loss']:.4f} ± {report['loss_stderr']:.4f} nats/example"))
        rows.append(("reconstruction loss", f"{report['recon_loss']:.4f} nats/example"))
    if "kl" in report:
        rows.append(("KL(q(z|x) || p(z))", f"{report['kl']:.4f} nats/example"))
    if "neg_elbo_bpd" in report:
        rows.append(("-ELBO in bits/dim", f"{report['neg_elbo_bpd']:.5f}"))
    if "active_units" in report:
        rows.append(
            (
                "active units",
                f"{report['active_units']} of {report['latent_dim']} "
                f"(Cov_x E[z|x] > {report['active_units_threshold']})",
            )
        )
    if "active_units_per_layer" in report:
        per_layer = zip(report["active_units_per_layer"], report["latent_dims_per_layer"], strict=True)
        rows.append(("active units per layer", ", ".join(f"z{i}: {a} of {n}" for i, (a, n) in enumerate(per_layer, 1))))
    if "kl_per_layer" in report:
        kls = ", ".join(f"z{i}: {_two_places(v)}" for i, v in enumerate(report["kl_per_layer"], 1))
        rows.append(("KL per layer", kls + " nats"))
    if "kl_per_dim" in report:
        kls = sorted(report["kl_per_dim"], reverse=True)
        rows.append(("KL per dimension (sorted)", " ".join(_two_places(v) for v in kls) + " nats"))
    rows.append(("reconstruction MSE", f"{report['recon_mse']:.6f} per dimension"))
    if "probe" in report:
        p = report["probe"]
        rows.append(
            (
                "linear probe accuracy",
                f"{p['accuracy']:.4f} (logistic regression on latent means, {p['classes']} classes, "
                f"fitted on {p['train_examples']} training examples)",
            )
        )
    if "dequantization" in report:
        dq = report["dequantization"]
        rows.append(
            (
                "dequantisation",
                f"uniform, {dq['levels']} levels: {dq['offset_nats']:.2f} nats added so the NLL bounds the discrete data",
            )
        )
    return rows


def report_notes(report: dict[str, Any]) -> list[str]:
    """Return the report's notes as lines: ``note: ...`` for a loss that is not a likelihood,
    else ``no NLL: ...`` when the NLL was skipped, each reason once; then ``collapse: ...`` when
    the KL term says the posterior has collapsed to the prior."""
    notes = []
    if "note" in report:
        notes.append(f"note: {report['note']}")
    elif report.get("nll_skipped"):
        notes.append(f"no NLL: {report['nll_skipped']}")
    collapsed = report_collapse_note(report)
    if collapsed:
        notes.append(f"collapse: {collapsed}")
    return notes


def _two_places(value: float) -> str:
    """Return ``value`` to two decimal places, 0.00 for what would print as -0.00 (a draw-based
    KL estimate a hair below zero)."""
    return f"{0.0 if abs(value) < 0.005 else value:.2f}"


def format_report(report: dict[str, Any], title: str = "") -> str:
    """Return the report as an aligned plain-text table (for a terminal)."""
    rows = report_rows(report)
    width = max(len(name) for name, _ in rows)
    lines = [title] if title else []
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines += [f"  {note}" for note in report_notes(report)]
    return "\n".join(lines)
