"""Importance-weighted estimate of log p(x) (Burda et al. 2015), in bounded memory.

For each example the bound is log (1/K) sum_k p(x, z_k) / q(z_k|x) with z_k ~ q(z|x). It is a
lower bound on log p(x) for every K, equals the ELBO in expectation at K = 1, and tightens to
log p(x) as K grows. The K samples are drawn in chunks whose decoder output (K_chunk x B x D
parameters) stays under a budget of elements; the chunks' log-sum-exps are combined with a
running log-sum-exp, so the result is the same as one pass over all K samples (to float
rounding) and exactly K samples are used whatever the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from vaekit import fast as fast_paths
from vaekit.distributions.posterior import gaussian_log_prob
from vaekit.models.checks import check_per_example
from vaekit.runtime import distributed

#: The number of importance samples of reported numbers (the literature's K = 5000).
DEFAULT_K = 5000
#: Default budget: elements of one chunk's decoder output (float32: 4 bytes each), i.e. 8 MiB:
#: small enough for the chunk's elementwise work to stay in cache, large enough for full-speed
#: matmuls.
DEFAULT_MAX_CHUNK_ELEMENTS = 2**21
#: A CUDA device's default budget at most: small chunks leave a GPU waiting on kernel launches,
#: and chunks this large keep its matmuls busy.
GPU_MAX_CHUNK_ELEMENTS = 2**26
#: Device memory a chunk may take per element of its decoder output (bytes): the float32 output,
#: the log-probability's temporaries and the hidden layers' activations, with room to spare.
CHUNK_BYTES_PER_ELEMENT = 64
#: A chunk function: ``(x, mu, logvar, std, eps, *cond) -> log weights [size, B]``.
Chunk = Callable[..., torch.Tensor]


def default_max_chunk_elements(device: torch.device | str) -> int:
    """Return the NLL's default budget on ``device`` (elements of one chunk's decoder output):
    :data:`DEFAULT_MAX_CHUNK_ELEMENTS` on a CPU; on a CUDA device the largest power of two up to
    :data:`GPU_MAX_CHUNK_ELEMENTS` whose chunk fits its free memory at
    :data:`CHUNK_BYTES_PER_ELEMENT` bytes each, never less than the CPU's."""
    from vaekit.runtime.memory import available_bytes

    device = torch.device(device)
    free = available_bytes(device) if device.type == "cuda" else None
    if free is None:
        return DEFAULT_MAX_CHUNK_ELEMENTS
    fits = 2 ** max(0, int(math.log2(max(1, free // CHUNK_BYTES_PER_ELEMENT))))
    return max(DEFAULT_MAX_CHUNK_ELEMENTS, min(GPU_MAX_CHUNK_ELEMENTS, fits))


def chunk_sizes(k: int, per_sample_elements: int, max_chunk_elements: int, equal: bool = False) -> list[int]:
    """Return the sample counts of the chunks that cover exactly ``k`` samples, each chunk's
    decoder output (``chunk * per_sample_elements`` elements) within ``max_chunk_elements``
    (at least one sample per chunk, whatever the budget). With ``equal``, chunks of one size
    that divides ``k`` are preferred when that size is at least half the largest allowed."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    per_chunk = max(1, min(k, max_chunk_elements // max(1, per_sample_elements)))
    if equal and k % per_chunk:
        divisor = next(d for d in range(per_chunk, 0, -1) if k % d == 0)
        if 2 * divisor >= per_chunk:
            per_chunk = divisor
    sizes = [per_chunk] * (k // per_chunk)
    if k % per_chunk:
        sizes.append(k % per_chunk)
    return sizes


def decoder_outputs(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Return the number of decoder outputs per example for data ``x`` ``[B, D]``: the
    likelihood's ``num_params`` where it has one (a table's mixed likelihood), else
    ``D * params_per_dim``."""
    num_params = getattr(model.likelihood, "num_params", None)
    return num_params if num_params is not None else x.shape[1] * getattr(model.likelihood, "params_per_dim", 1)


def chunk_log_weights(
    model: torch.nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    std: torch.Tensor,
    eps: torch.Tensor,
    *cond: torch.Tensor,
) -> torch.Tensor:
    """Return log p(x, z_k) - log q(z_k|x) of one chunk of draws ``z = mu + std * eps``
    (``eps`` ``[size, B, L]``): ``[size, B]`` in the model's dtype, nats."""
    size, batch, latent = eps.shape
    z = mu + std * eps
    flat_z = z.reshape(size * batch, latent)
    # One large [size*B, L] batch through the decoder: big matmuls, not `size` small ones.
    params = model.decode(flat_z, *cond).reshape(size, batch, -1)
    log_px_z = check_per_example(model.likelihood.log_prob(x, params), (size, batch), model)
    log_pz = model.prior.log_prob(flat_z).reshape(size, batch)
    return log_px_z + log_pz - gaussian_log_prob(z, mu, logvar)


def _batch_chunk(model: torch.nn.Module, x: torch.Tensor, fused: fast_paths.FusedBernoulliChunk | None) -> Chunk:
    """Return the chunk function for the batch ``x``: ``fused`` (from :func:`vaekit.fast.nll_chunk_for`)
    where it covers the batch, else the generic :func:`chunk_log_weights` bound to ``model``."""
    if fused is not None and fused.covers(x):
        return fused
    return partial(chunk_log_weights, model)


def nll_path(model: torch.nn.Module, x: torch.Tensor, fast: str = "auto") -> str:
    """Return which chunk :func:`log_likelihood_bounds` uses for ``model`` on ``x`` under the
    ``fast`` mode: ``"fused"`` or ``"generic"`` (chunks whose ``exp`` overflows are still
    recomputed by the generic one)."""
    fused = fast_paths.nll_chunk_for(model, chunk_log_weights, fast)
    return "fused" if fused is not None and fused.covers(x) else "generic"


def _repeat_condition(y: torch.Tensor, times: int) -> torch.Tensor:
    # z is flattened sample-major ([k0: b0..bB-1, k1: b0..]), so the labels are tiled, not interleaved.
    return y.repeat(times, *([1] * (y.ndim - 1)))


def log_likelihood_bound(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    y: torch.Tensor | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    on_chunk: Callable[[int], None] | None = None,
    fast: str = "auto",
) -> torch.Tensor:
    """Return the importance-weighted bound on log p(x) of each row of ``x`` ``[B, D]``:
    ``[B]`` float64, nats per example (higher is better; ``-`` of it estimates the NLL).

    ``y`` is passed to ``encode``/``decode`` of conditional models. The posterior draws use
    ``generator`` (or the global RNG); ``noise`` (``[k, B, L]`` standard normal draws) replaces
    them, so that runs with different budgets can be compared on the same samples. A model with
    ``own_log_weights`` (an IAF posterior, stochastic layers) gives each chunk's weights itself
    (``model.log_weights``, every layer drawn through its hierarchy; ``noise`` does not apply).
    ``on_chunk(n)`` is called after each chunk of ``n`` samples (progress, tests). ``fast``
    (``"auto"`` or ``"off"``, see :mod:`vaekit.fast`) chooses whether the fused chunk runs
    where it applies (:func:`nll_path` says which); both give the same bound to float rounding.
    """
    fused = fast_paths.nll_chunk_for(model, chunk_log_weights, fast)
    return _bound(model, x, k, _batch_chunk(model, x, fused), y, max_chunk_elements, generator, noise, on_chunk)


@torch.inference_mode()
def _bound(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    chunk: Chunk,
    y: torch.Tensor | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """:func:`log_likelihood_bound` through the chunk function ``chunk``."""
    conditional = getattr(model, "conditional", False)
    if conditional and y is None:
        raise ValueError("a conditional model needs the condition y of each example")
    if conditional and hasattr(model, "condition"):
        # Labels become condition vectors once per batch, not once per chunk: checking labels
        # reads them back (a synchronisation on an accelerator), and the vectors give the same
        # values (the model takes [B, C] vectors as they are).
        y = model.condition(y)
    cond = (y,) if conditional else ()
    if getattr(model, "own_log_weights", False):
        if noise is not None:
            raise ValueError(f"noise cannot replace the draws of {type(model).__name__}: it draws each layer itself")
        return _own_bound(model, x, k, cond, max_chunk_elements, generator, on_chunk)
    mu, logvar = model.encode(x, *cond)
    std = torch.exp(0.5 * logvar)
    batch, latent = mu.shape
    if noise is not None and noise.shape != (k, batch, latent):
        raise ValueError(f"noise must have shape {(k, batch, latent)}, got {tuple(noise.shape)}")
    per_sample = batch * decoder_outputs(model, x)
    running = torch.full((batch,), -math.inf, dtype=torch.float64, device=x.device)
    done = 0
    # Equal chunks: one decoder shape for the whole of K (a remainder chunk would be a second).
    for size in chunk_sizes(k, per_sample, max_chunk_elements, equal=True):
        if noise is None:
            eps = torch.randn((size, batch, latent), generator=generator, dtype=mu.dtype, device=mu.device)
        else:
            eps = noise[done : done + size].to(device=mu.device, dtype=mu.dtype)
        flat_cond = (_repeat_condition(y, size),) if conditional else ()
        log_w = chunk(x, mu, logvar, std, eps, *flat_cond).double()
        running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
        done += size
        if on_chunk is not None:
            on_chunk(size)
    assert done == k  # chunk_sizes covers k exactly; guards future edits
    return running - math.log(k)


def _own_bound(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    cond: tuple[torch.Tensor, ...],
    max_chunk_elements: int,
    generator: torch.Generator | None,
    on_chunk: Callable[[int], None] | None,
) -> torch.Tensor:
    """:func:`_bound` for a model that computes its own weights (``own_log_weights``: an IAF
    posterior, stochastic layers): the same chunks and running log-sum-exp, each chunk's
    ``[size, B]`` log weights from ``model.log_weights(x, size, *cond, generator=generator)``."""
    running = torch.full((len(x),), -math.inf, dtype=torch.float64, device=x.device)
    for size in chunk_sizes(k, len(x) * decoder_outputs(model, x), max_chunk_elements, equal=True):
        log_w = model.log_weights(x, size, *cond, generator=generator).log_weights.double()
        running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
        if on_chunk is not None:
            on_chunk(size)
    return running - math.log(k)


def log_likelihood_bounds(
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    y: torch.Tensor | None = None,
    batch_size: int | None = None,
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    seed: int = 0,
    on_batch: Callable[[int], None] | None = None,
    fast: str = "auto",
    sharded: bool = False,
) -> torch.Tensor:
    """Return the K-sample importance-weighted bound on log p(x) for every row of ``x``
    ``[N, D]``: ``[N]`` float64 on CPU, nats per example. Examples go through in batches of
    ``batch_size`` (fewer when one sample of the batch alone would exceed the budget; by default
    100, or more when K is small, so that one chunk fills the budget with large matmuls); the
    posterior draws come from a generator seeded with ``seed``, leaving the global RNG alone.
    ``on_batch(n)`` is called after each batch of ``n`` examples. ``fast`` is as in
    :func:`log_likelihood_bound` (one fused chunk, and its buffers, serve every batch).

    With ``sharded`` in a distributed run (``torchrun``), rank r of N bounds batches r, r + N,
    ... and the bounds are gathered, so every rank returns all of them: the same numbers as one
    process, because each rank also draws (and discards) the other ranks' posterior noise, which
    keeps the one generator's stream as one process consumes it."""
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    dim_params = decoder_outputs(model, x)
    if batch_size is None:
        batch_size = max(100, max_chunk_elements // max(1, k * dim_params))
    batch_size = max(1, min(batch_size, max_chunk_elements // max(1, dim_params)))
    fused = fast_paths.nll_chunk_for(model, chunk_log_weights, fast)
    world = distributed.world()
    rank, size = (world.rank, world.size) if sharded else (0, 1)
    parts = []
    try:
        for index, start in enumerate(range(0, len(x), batch_size)):
            xb = x[start : start + batch_size]
            yb = y[start : start + batch_size] if y is not None else None
            if index % size != rank:
                _skip_draws(model, xb, k, max_chunk_elements, generator)
                continue
            chunk = _batch_chunk(model, xb, fused)
            # Kept on the model's device until the end: a copy to the CPU per batch would wait
            # for each batch to finish before the next one is queued.
            parts.append(_bound(model, xb, k, chunk, yb, max_chunk_elements, generator))
            if on_batch is not None:
                # The other ranks bound this round's other batches meanwhile; the last round may
                # hold fewer than ``size`` batches, or a short one.
                round_start = start - rank * batch_size
                on_batch(min(round_start + size * batch_size, len(x)) - round_start)
    finally:
        model.train(was_training)
    mine = torch.cat(parts).cpu() if parts else torch.zeros(0, dtype=torch.float64)
    if size == 1:
        return mine
    # Rank r holds batches r, r + N, ...: interleave the gathered parts back into example order.
    gathered = distributed.all_gather_objects(mine.split(batch_size))
    ordered = [gathered[i % size][i // size] for i in range(-(-len(x) // batch_size))]
    return torch.cat(ordered) if ordered else mine


def _skip_draws(
    model: torch.nn.Module, x: torch.Tensor, k: int, max_chunk_elements: int, generator: torch.Generator
) -> None:
    """Draw, and discard, the posterior noise :func:`_bound` would draw for the batch ``x``, so
    that ``generator`` moves on as if the batch had been bounded here."""
    dtype = next(model.parameters()).dtype  # the dtype of the encoder's mu
    # One draw per chunk, or one per stochastic layer in the model's order (own_log_weights).
    widths = model.noise_widths if getattr(model, "own_log_weights", False) else (model.latent_dim,)
    for size in chunk_sizes(k, len(x) * decoder_outputs(model, x), max_chunk_elements, equal=True):
        for latent in widths:
            torch.randn((size, len(x), latent), generator=generator, dtype=dtype, device=x.device)
