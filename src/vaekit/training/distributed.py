"""What a training run does differently when several processes train it (``torchrun``).

N processes with global batch B train as one process with batch B does, to float tolerance:

- every rank draws the epoch's permutation and each batch's noise (binarisation,
  dequantisation, reparameterisation) exactly as one process would, and keeps only its rows of
  the batch (see :mod:`vaekit.runtime.batch_shard`);
- after each backward pass, :class:`GradientSum` sums the gradients of the ranks' rows,
  weighted by their share of the batch, with one ``all_reduce`` that also carries the batch's
  loss terms, so every rank steps the same weights and sees the same loss (and so stops at the
  same step when it diverges).

vaekit reduces the gradients itself rather than through ``DistributedDataParallel``'s
autograd hooks because its fused training step computes gradients without autograd, and one
message per step carries the loss terms too. The sums differ from one process's only in the
order of float additions.
"""

from __future__ import annotations

import time

import torch

from vaekit.config import RunConfig
from vaekit.objectives.base import StepLoss
from vaekit.runtime.batch_shard import current_rows
from vaekit.runtime.distributed import World, all_reduce_sum
from vaekit.runtime.errors import ConfigError


class GradientSum:
    """Sums the gradients of ``parameters`` and the loss terms over every rank after a
    backward pass: call it with a step's :class:`StepLoss` (means over this rank's rows)
    inside :func:`~vaekit.runtime.batch_shard.rows_of_batch`; it returns the global batch's
    loss (mean, nats per example) with its summed recon and KL as one-element tensors."""

    def __init__(self, parameters: list[torch.nn.Parameter]) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        #: seconds spent in the all_reduce so far (waiting for the slowest rank included)
        self.seconds = 0.0
        self.n_grads = sum(p.numel() for p in self.parameters)
        self.flat: torch.Tensor | None = None
        self.views: list[torch.Tensor] = []

    def _buffer(self, n_terms: int) -> torch.Tensor:
        """Return the one buffer of every gradient and ``n_terms`` loss terms. The parameters'
        .grad become views of it, so a step that writes gradients in place (the fused step)
        fills the message itself and the sum needs no copies."""
        if self.flat is None or len(self.flat) != self.n_grads + n_terms:
            first = self.parameters[0]
            self.flat = torch.zeros(self.n_grads + n_terms, dtype=first.dtype, device=first.device)
            sizes = [p.numel() for p in self.parameters]
            self.views = [v.view_as(p) for v, p in zip(self.flat[: self.n_grads].split(sizes), self.parameters, strict=True)]
        return self.flat

    def __call__(self, terms: StepLoss) -> StepLoss:
        rows = current_rows()
        if rows is None:
            raise RuntimeError("GradientSum needs the batch's rows (runtime.batch_shard.rows_of_batch)")
        total, start, stop = rows
        share = (stop - start) / total  # this rank's rows were averaged over (stop - start), not total
        layers = 0 if terms.kl_layers is None else terms.kl_layers.shape[-1]
        flat = self._buffer(3 + layers)
        for p, view in zip(self.parameters, self.views, strict=True):
            if p.grad is not view:  # a new gradient tensor (autograd), or none: into the buffer
                if p.grad is None:
                    view.zero_()
                else:
                    view.copy_(p.grad)
                p.grad = view
        grads, head = flat[: self.n_grads], flat[self.n_grads :]
        grads.mul_(share)
        head[0] = terms.loss.detach() * share
        head[1] = terms.recon.detach().sum()
        head[2] = terms.kl.detach().sum()
        if terms.kl_layers is not None:
            head[3:] = terms.kl_layers.detach().sum(0)
        started = time.perf_counter()
        all_reduce_sum(flat)
        self.seconds += time.perf_counter() - started
        # The layers' KL sums, as one row: the loop adds rows up over the epoch.
        kl_layers = head[3:].clone().unsqueeze(0) if layers else None
        return StepLoss(head[0].clone(), head[1:2].clone(), head[2:3].clone(), kl_layers)


def check_distributed_training(config: RunConfig, n_train: int, world: World) -> None:
    """Refuse, on every rank alike, a run that ``world``'s processes cannot train as one
    process would: batch normalisation (each rank would normalise its own rows), a global
    batch (or the epoch's last batch) with fewer examples than processes, ``torch.compile``."""
    size, batch = world.size, config.train.batch_size
    fix_one = "or train in one process"
    if config.model.net.get("normalization") == "batch":
        # The loop also refuses a built model with batch norm of its own (the Ladder VAE's).
        raise ConfigError(
            f"batch normalisation (net.normalization: batch) normalises each of the {size} processes' rows on its "
            f"own, which is not the one-process training; use --set net.normalization=layer {fix_one}"
        )
    if config.train.compile:
        raise ConfigError(f"--compile is not supported with {size} processes; leave it out {fix_one}")
    last = n_train % batch
    if batch < size or 0 < last < size:
        small = batch if batch < size else last
        raise ConfigError(
            f"a batch of {small} example(s) cannot be split over {size} processes (--batch-size is the global batch; "
            f"{n_train} training examples leave a last batch of {last or batch}); choose a --batch-size of at least "
            f"{size} whose last batch has none or at least {size} examples, {fix_one}"
        )
