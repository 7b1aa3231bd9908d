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

Every example's posterior draws come from a generator of its own, seeded by the scoring's seed
and a hash of the example's values (:func:`example_seeds`): an example's score is a function of
the example, the model and the seed alone, whatever else is scored with it, in whatever order,
batch, chunk or number of processes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
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
        shown = k.item() if isinstance(k, np.generic) else k  # 5, not np.int64(5)
        raise ConfigError(f"--k (k= in Python) must be a whole number of posterior draws >= 1, got {shown!r}")
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
    seed: int = 0,
    stream: int = 0,
    explain: bool = False,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    chunk: Callable[..., torch.Tensor] | None = None,
) -> ScoredBatch:
    """Return the ``kind`` scores of the rows of ``x`` ``[B, D]`` (model units), with ``k``
    posterior draws per row, and their explanation when ``explain``. Each row's draws (the
    score's, then the explanation's) come from its own generator, seeded by ``seed``,
    ``stream`` and the row's values (:func:`example_generators`), so a row's score does not
    depend on the rows beside it. The draws go through the decoder in chunks whose output stays
    within ``max_chunk_elements``; ``chunk`` is the log-weight function
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
    generators = example_generators(x, seed, stream)
    if getattr(model, "own_log_weights", False):
        return _own_scores(model, x, kind, k, y, generators, explain, max_chunk_elements)
    chunk = chunk or (lambda *a: chunk_log_weights(model, *a))
    std = torch.exp(0.5 * logvar)
    batch, latent = mu.shape
    running = torch.full((batch,), -math.inf, dtype=torch.float64, device=x.device)
    total = torch.zeros(batch, dtype=torch.float64, device=x.device)
    draws_of = _draws_per_example(k, latent, generators, mu)
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
        eps = _draws_per_example(draws, latent, generators, mu)
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
    generators: Sequence[torch.Generator],
    explain: bool,
    max_chunk_elements: int,
) -> ScoredBatch:
    """:func:`score_batch`'s ``nll``/``elbo`` for a model that computes its own weights (an IAF
    posterior, stochastic layers): ``model.log_weights`` one example at a time, with that
    example's generator from ``generators``, in chunks within ``max_chunk_elements``. With
    ``explain``, each feature's term is its reconstruction cost averaged over
    ``min(k, EXPLAIN_DRAWS)`` draws of z_1 through the model's own posterior, as for one layer."""
    scores, terms = [], []
    for i in range(len(x)):
        xi = x[i : i + 1]
        cond = (y[i : i + 1],) if getattr(model, "conditional", False) else ()
        generator = generators[i]
        running = torch.full((1,), -math.inf, dtype=torch.float64, device=x.device)
        total = torch.zeros(1, dtype=torch.float64, device=x.device)
        for size in chunk_sizes(k, decoder_outputs(model, x), max_chunk_elements, equal=True):
            log_w = model.log_weights(xi, size, *cond, generator=generator).log_weights.double()
            running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
            total += log_w.sum(0)
        scores.append(-(running - math.log(k)) if kind == "nll" else -total / k)
        if explain:
            params = model.log_weights(xi, min(k, EXPLAIN_DRAWS), *cond, generator=generator).params
            terms.append(-model.likelihood.log_prob_terms(xi, params).double().mean(0))
    scored = ScoredBatch(torch.cat(scores).cpu())
    if explain:
        scored.terms = torch.cat(terms).cpu()
        scored.latent = scored.scores - scored.terms.sum(-1)
    return scored


def example_seeds(x: torch.Tensor, seed: int, stream: int = 0) -> list[int]:
    """Return one seed per row of ``x`` (a 32-bit int each): a hash of ``seed``, ``stream``
    (which draws: a model's, a background model's) and the bytes of the row's values. Rows of
    equal values get equal seeds; ``-0.0`` counts as ``0.0``."""
    # torch's CPU generator keeps 32 bits of a seed; two rows sharing a seed only share noise.
    key = (seed % 2**64).to_bytes(8, "little") + (stream % 2**64).to_bytes(8, "little")
    rows = (x.detach().reshape(len(x), -1) + 0.0).cpu().numpy()
    return [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=4, key=key).digest(), "little") for row in rows]


def example_generators(x: torch.Tensor, seed: int, stream: int = 0) -> list[torch.Generator]:
    """Return one generator per row of ``x``, on ``x``'s device, seeded by :func:`example_seeds`."""
    return [torch.Generator(device=x.device).manual_seed(s) for s in example_seeds(x, seed, stream)]


def _draws_per_example(k: int, latent: int, generators: Sequence[torch.Generator], like: torch.Tensor) -> torch.Tensor:
    """Return standard normal draws ``[len(generators), k, latent]``, each example's ``[k, latent]``
    from its own generator (the next draws of that generator)."""
    return torch.stack(
        [torch.randn((k, latent), generator=g, dtype=like.dtype, device=like.device) for g in generators]
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
    stream: int = 0,
    explain: bool = False,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    fast: str = "auto",
    on_batch: Callable[[ScoredBatch], None] | None = None,
    keep: bool = False,
    sharded: bool = False,
) -> ScoredBatch:
    """Return the scores of every example of ``batches`` (``(x, y)`` pairs, model units, y for
    conditional models) in order, as one :class:`ScoredBatch`. Each example's draws come from a
    generator seeded by ``seed``, ``stream`` and the example's values (:func:`example_seeds`),
    so an example scores the same alone, among others, in any order, chunk or batch.
    ``on_batch`` sees each batch's scores as they come (for writing them out and for progress);
    with it, nothing is kept and the result is empty.

    With ``sharded`` in a distributed run, rank r of N scores batches r, r + N, ... (``on_batch``
    sees this rank's batches) and every rank returns all the scores, gathered."""
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
            size = score_batch_size(model, x, k, max_chunk_elements)
            for start in range(0, len(x), size):
                xb = x[start : start + size]
                yb = y[start : start + size] if y is not None else None
                index += 1
                if (index - 1) % ranks != rank:
                    continue
                chunk = _batch_chunk(model, xb, fused) if kind != "recon" else None
                scored = score_batch(
                    model, xb, kind, k, y=yb, seed=seed, stream=stream, explain=explain,
                    max_chunk_elements=max_chunk_elements, chunk=chunk,
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
