"""The training step alone, autograd with Adam's three kernels and vaekit's fused step: where the time goes.

The classic MNIST VAE (784-400-20, Bernoulli, batch 128) on random grey levels, one process,
no data loading, no metrics: seconds per epoch-equivalent of 60,000 images for autograd with
Adam's default (for-loop), foreach and fused kernels, and for the fused step
(`vaekit.fast.fused_step`, fused Adam), in rotated rounds (medians); then torch profiler
tables of 50 steps of autograd + fused Adam and of the fused step.

    python -m bench.step_variants [--threads 2] [--images 30000] [--rounds 3] [--no-profile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import mlp_vae_config
from vaekit import objectives
from vaekit.config import RunConfig
from vaekit.models import create
from vaekit.fast.fused_step import FusedVAEStep

VARIANTS = {
    "autograd, Adam default": ({}, False),
    "autograd, Adam foreach": ({"foreach": True}, False),
    "autograd, Adam fused": ({"fused": True}, False),
    "fused step, Adam fused": ({"fused": True}, True),
}


def epoch_seconds(x: torch.Tensor, config: RunConfig, adam_options: dict, n: int, fused_step: bool = False) -> float:
    """Train ``n`` images from ``x`` and return the time scaled to an epoch of 60,000, seconds."""
    torch.manual_seed(0)
    model = create(config)
    objective = objectives.create_objective(config, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **adam_options)
    step_fn = FusedVAEStep(model, objective) if fused_step else None
    order = torch.randperm(n)
    started = time.perf_counter()
    for step, i in enumerate(range(0, n, 128)):
        x_batch = x[order[i : i + 128]]
        if step_fn is not None:
            loss = step_fn(x_batch, step).loss
        else:
            loss = objectives.training_loss(objective, model, x_batch, None, step).loss
        if not torch.isfinite(loss):
            raise RuntimeError("loss is not finite")
        if step_fn is None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) * 60_000 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = mlp_vae_config()
    x = torch.rand(args.images, 784)
    names = list(VARIANTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            options, fused_step = VARIANTS[name]
            times[name].append(epoch_seconds(x, config, options, args.images, fused_step))
    for name in names:
        print(f"{name:>24}: {statistics.median(times[name]):.2f} s per 60,000-image epoch (median of {args.rounds})")
    if not args.no_profile:
        from torch.profiler import ProfilerActivity, profile

        for name in ("autograd, Adam fused", "fused step, Adam fused"):
            options, fused_step = VARIANTS[name]
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                epoch_seconds(x, config, options, 6400, fused_step)
            print(f"\n{name}, 50 steps:")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
