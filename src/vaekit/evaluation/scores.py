"""Per-example anomaly scores of a trained model, in nats: higher is more unusual.

Three kinds, all computed from the same encoder pass:

- ``nll``: minus the K-sample importance-weighted bound on log p(x) (the NLL estimate that
  ``evaluate`` reports, per example); the tightest of the three, and the only one that estimates
  the example's probability under the model.
- ``elbo``: minus the ELBO, averaged over K posterior draws: reconstruction cost plus the KL
  of the posterior from the prior.
- ``recon``: minus log p(x | z) at the posterior mean: the reconstruction cost alone, what
  PyOD's VAE and most "reconstruction error" detectors use. The only kind a deterministic
  autoencoder has.

Explanations split a score into one term per feature (a pixel, or a table column block): the
feature's reconstruction cost ``-E_q[log p(x_f | z)]``, averaged over a few posterior draws (at
the posterior mean for ``recon``), and ``latent``, the rest of the score (the KL, and for
``nll`` the importance weighting's gain), so that terms plus ``latent`` equal the score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from vaekit import fast as fast_paths
from vaekit.evaluation.iwae import (
    DEFAULT_MAX_CHUNK_ELEMENTS,
    _batch_chunk,
    _repeat_condition,
    chunk_log_weights,
    chunk_sizes,
    decoder_outputs,
)
from vaekit.runtime import distributed
from vaekit.runtime.errors import ConfigError

#: The score kinds, in the order the docs give them.
SCORE_KINDS = ("nll", "elbo", "recon")
#: Posterior draws per example when K is not given: importance samples for ``nll``, ELBO draws
#: for ``elbo`` (``recon`` takes none).
DEFAULT_SCORE_K = {"nll": 100, "elbo": 10}
#: Posterior draws of an explanation's per-feature terms (at most K).
EXPLAIN_DRAWS = 16


def check_score_kind(model: torch.nn.Module, kind: str, k: int | None) -> int | None:
    """Return the number of posterior draws ``kind`` takes on ``model`` (None for ``recon``),
    after checking that the model can give that score. Raises ``ConfigError`` naming the fix
    for an unknown kind, a K below 1, a K given to ``recon``, or ``nll``/``elbo`` of a model
    without a posterior (a plain autoencoder)."""
    if kind not in SCORE_KINDS:
        raise ConfigError(f"unknown score {kind!r}: choose one of {', '.join(SCORE_KINDS)}")
    if kind == "recon":
        if k is not None:
            raise ConfigError("--k is the number of posterior draws of the nll and elbo scores; recon takes none: leave --k out")
        return None
    if not getattr(model, "variational", True):
        raise ConfigError(
            f"a {type(model).__name__} has no posterior, so no {kind} score: use --score recon "
            "(its reconstruction cost), or train a variational model"
        )
    k = DEFAULT_SCORE_K[kind] if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"--k (k= in Python) must be a whole number of posterior draws >= 1, got {k!r}")
    return k


@dataclass
class ScoredBatch:
    """Scores of one batch, float64 on the CPU: ``scores`` ``[B]`` nats (higher is more unusual);
    with an explanation, ``terms`` ``[B, F]`` (each feature's reconstruction cost, nats) and
    ``latent`` ``[B]`` (the rest of the score)."""

    scores: torch.Tensor
    terms: torch.Tensor | None = None
    latent: torch.Tensor | None = None


@torch.inference_mode()
def score_batch(
    model: torch.nn.Module,
    x: torch.Tensor,
    kind: str,
    k: int | None,
    *,
    y: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    explain: bool = False,
    explain_generator: torch.Generator | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    chunk: Callable[..., torch.Tensor] | None = None,
) -> ScoredBatch:
    """Return the ``kind`` scores of the rows of ``x`` ``[B, D]`` (model units), with ``k``
    posterior draws from ``generator``, and their explanation (draws from
    ``explain_generator``) when ``explain``. Each generator is consumed example by example
    (all of one example's draws, then the next's), so an example's score does not depend on
    the batch it came in. The draws go through the decoder in chunks whose output stays within
    ``max_chunk_elements``; ``chunk`` is the log-weight function
    (:func:`vaekit.evaluation.iwae.chunk_log_weights` by default)."""
    cond = (y,) if getattr(model, "conditional", False) else ()
    mu, logvar = model.encode(x, *cond)
    if kind == "recon":
        params = model.decode(mu, *cond)
        log_px = model.likelihood.log_prob(x, params).double()
        scored = ScoredBatch(-log_px.cpu())
        if explain:
            terms = -model.likelihood.log_prob_terms(x, params).double()
            scored.terms, scored.latent = terms.cpu(), (-log_px - terms.sum(-1)).cpu()
        return scored
    if getattr(model, "own_log_weights", False):
        return _own_scores(model, x, kind, k, y, generator, explain_generator if explain else None, max_chunk_elements)
    chunk = chunk or (lambda *a: chunk_log_weights(model, *a))
    std = torch.exp(0.5 * logvar)
    batch, latent = mu.shape
    running = torch.full((batch,), -math.inf, dtype=torch.float64, device=x.device)
    total = torch.zeros(batch, dtype=torch.float64, device=x.device)
    draws_of = _draws_per_example(batch, k, latent, generator, mu)
    done = 0
    for size in chunk_sizes(k, batch * decoder_outputs(model, x), max_chunk_elements, equal=True):
        eps = draws_of[:, done : done + size].transpose(0, 1).contiguous()
        done += size
        flat_cond = (_repeat_condition(y, size),) if cond else ()
        log_w = chunk(x, mu, logvar, std, eps, *flat_cond).double()
        running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
        total += log_w.sum(0)
    scores = -(running - math.log(k)) if kind == "nll" else -total / k
    scored = ScoredBatch(scores.cpu())
    if explain:
        draws = min(k, EXPLAIN_DRAWS)
        eps = _draws_per_example(batch, draws, latent, explain_generator, mu)
        z = (mu + std * eps.transpose(0, 1)).reshape(draws * batch, latent)
        flat_cond = (_repeat_condition(y, draws),) if cond else ()
        params = model.decode(z, *flat_cond).reshape(draws, batch, -1)
        terms = -model.likelihood.log_prob_terms(x, params).double().mean(0)
        scored.terms, scored.latent = terms.cpu(), (scores - terms.sum(-1)).cpu()
    return scored


def _own_scores(
    model: torch.nn.Module,
    x: torch.Tensor,
    kind: str,
    k: int,
    y: torch.Tensor | None,
    generator: torch.Generator | None,
    explain_generator: torch.Generator | None,
    max_chunk_elements: int,
) -> ScoredBatch:
    """:func:`score_batch`'s ``nll``/``elbo`` for a model that computes its own weights (an IAF
    posterior, stochastic layers): ``model.log_weights`` one example at a time, so that an
    example's draws do not depend on its batch, in chunks within ``max_chunk_elements``. With
    ``explain_generator``, each feature's term is its reconstruction cost averaged over
    ``min(k, EXPLAIN_DRAWS)`` draws of z_1 through the model's own posterior, as for one layer."""
    scores, terms = [], []
    for i in range(len(x)):
        xi = x[i : i + 1]
        cond = (y[i : i + 1],) if getattr(model, "conditional", False) else ()
        running = torch.full((1,), -math.inf, dtype=torch.float64, device=x.device)
        total = torch.zeros(1, dtype=torch.float64, device=x.device)
        for size in chunk_sizes(k, decoder_outputs(model, x), max_chunk_elements, equal=True):
            log_w = model.log_weights(xi, size, *cond, generator=generator).log_weights.double()
            running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
            total += log_w.sum(0)
        scores.append(-(running - math.log(k)) if kind == "nll" else -total / k)
        if explain_generator is not None:
            params = model.log_weights(xi, min(k, EXPLAIN_DRAWS), *cond, generator=explain_generator).params
            terms.append(-model.likelihood.log_prob_terms(xi, params).double().mean(0))
    scored = ScoredBatch(torch.cat(scores).cpu())
    if explain_generator is not None:
        scored.terms = torch.cat(terms).cpu()
        scored.latent = scored.scores - scored.terms.sum(-1)
    return scored


def _draws_per_example(
    batch: int, k: int, latent: int, generator: torch.Generator | None, like: torch.Tensor
) -> torch.Tensor:
    """Return standard normal draws ``[batch, k, latent]``, one call per example: torch's
    sampler gives other numbers for one large call than for several small ones, and an
    example's draws must not depend on the batch it is in."""
    return torch.stack(
        [torch.randn((k, latent), generator=generator, dtype=like.dtype, device=like.device) for _ in range(batch)]
    )


def score_batch_size(model: torch.nn.Module, x: torch.Tensor, k: int | None, max_chunk_elements: int) -> int:
    """Return how many examples to score at once: as :func:`~vaekit.evaluation.iwae.log_likelihood_bounds`
    chooses (100, or more when K is small, within the memory budget)."""
    outputs = decoder_outputs(model, x)
    size = max(100, max_chunk_elements // max(1, (k or 1) * outputs))
    return max(1, min(size, max_chunk_elements // max(1, outputs)))


def score_examples(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    kind: str,
    k: int | None,
    *,
    seed: int = 0,
    generator: torch.Generator | None = None,
    explain: bool = False,
    explain_generator: torch.Generator | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    fast: str = "auto",
    on_batch: Callable[[ScoredBatch], None] | None = None,
    keep: bool = False,
    sharded: bool = False,
) -> ScoredBatch:
    """Return the scores of every example of ``batches`` (``(x, y)`` pairs, model units, y for
    conditional models) in order, as one :class:`ScoredBatch`. The draws come from one
    generator (``generator``, or one seeded with ``seed``; the explanation's from
    ``explain_generator``, or one seeded with ``seed + 1``), consumed in example order, so a
    file scored in other chunks or batches gives the same numbers. ``on_batch`` sees each batch's scores as they come (for
    writing them out and for progress); with it, nothing is kept and the result is empty.

    With ``sharded`` in a distributed run, rank r of N scores batches r, r + N, ... (drawing and
    discarding the other ranks' draws, so each example gets the draws it gets in one process;
    ``on_batch`` sees this rank's batches) and every rank returns all the scores, gathered."""
    k = check_score_kind(model, kind, k)
    world = distributed.world()
    rank, ranks = (world.rank, world.size) if sharded else (0, 1)
    if ranks > 1 and on_batch is not None and not keep:
        raise ValueError("a sharded scoring keeps its scores (keep=True): every rank returns all of them")
    index = 0
    was_training = model.training
    model.eval()
    fused = fast_paths.nll_chunk_for(model, chunk_log_weights, fast) if kind != "recon" else None
    parts: list[ScoredBatch] = []
    try:
        for x, y in batches:
            if generator is None:
                generator = torch.Generator(device=x.device).manual_seed(seed)
            if explain and explain_generator is None:
                explain_generator = torch.Generator(device=x.device).manual_seed(seed + 1)
            size = score_batch_size(model, x, k, max_chunk_elements)
            for start in range(0, len(x), size):
                xb = x[start : start + size]
                yb = y[start : start + size] if y is not None else None
                index += 1
                if (index - 1) % ranks != rank:
                    _skip_draws(
                        model, len(xb), kind, k, generator, explain_generator if explain else None, max_chunk_elements
                    )
                    continue
                chunk = _batch_chunk(model, xb, fused) if kind != "recon" else None
                scored = score_batch(
                    model, xb, kind, k, y=yb, generator=generator, explain=explain,
                    explain_generator=explain_generator, max_chunk_elements=max_chunk_elements, chunk=chunk,
                )  # fmt: skip
                if on_batch is not None:
                    on_batch(scored)
                if on_batch is None or keep:
                    parts.append(scored)
    finally:
        model.train(was_training)
    if ranks > 1:
        # Rank r scored batches r, r + N, ...: interleave the gathered lists back into order.
        gathered = distributed.all_gather_objects(parts)
        parts = [gathered[i % ranks][i // ranks] for i in range(index)]
    return _concatenate(parts, explain)


def _skip_draws(
    model: torch.nn.Module,
    n: int,
    kind: str,
    k: int,
    generator: torch.Generator,
    explain_generator: torch.Generator | None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
) -> None:
    """Draw, and discard, what :func:`score_batch` draws for ``n`` examples (nothing for
    ``recon``), so the generators move on as if they had been scored here."""
    if kind == "recon":
        return
    latent, dtype = model.latent_dim, next(model.parameters()).dtype  # the dtype of the encoder's mu
    like = torch.empty(0, dtype=dtype, device=generator.device)
    if getattr(model, "own_log_weights", False):
        # as _own_scores draws: per example, per chunk, one draw per stochastic layer in the model's order
        outputs = decoder_outputs(model, torch.empty(1, model.input_dim))
        sizes = chunk_sizes(k, outputs, max_chunk_elements, equal=True)
        for _ in range(n):
            for size in sizes:
                for width in model.noise_widths:
                    torch.randn((size, 1, width), generator=generator, dtype=dtype, device=generator.device)
            if explain_generator is not None:
                for width in model.noise_widths:
                    torch.randn((min(k, EXPLAIN_DRAWS), 1, width), generator=explain_generator, dtype=dtype,
                                device=explain_generator.device)  # fmt: skip
        return
    _draws_per_example(n, k, latent, generator, like)
    if explain_generator is not None:
        _draws_per_example(n, min(k, EXPLAIN_DRAWS), latent, explain_generator, like)


def _concatenate(parts: list[ScoredBatch], explain: bool) -> ScoredBatch:
    if not parts:
        return ScoredBatch(torch.zeros(0, dtype=torch.float64))
    scores = torch.cat([p.scores for p in parts])
    if not explain:
        return ScoredBatch(scores)
    return ScoredBatch(scores, torch.cat([p.terms for p in parts]), torch.cat([p.latent for p in parts]))  # type: ignore[misc]


def as_numpy(scored: ScoredBatch) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return ``(scores, terms, latent)`` as float64 numpy arrays (None where absent)."""
    return (
        scored.scores.numpy(),
        None if scored.terms is None else scored.terms.numpy(),
        None if scored.latent is None else scored.latent.numpy(),
    )
