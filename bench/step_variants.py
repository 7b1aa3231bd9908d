"""The training step alone, with Adam's three kernels: where the loop's time goes.

The classic MNIST VAE (784-400-20, Bernoulli, batch 128) on random grey levels, one process,
no data loading, no metrics: seconds per epoch-equivalent of 60,000 images for Adam's default
(for-loop), foreach and fused kernels, then a torch profiler table of 50 fused steps.

    python -m bench.step_variants [--threads 2] [--images 30000] [--no-profile]
"""

from __future__ import annotations

import argparse
import time

import torch

from vaekit import objectives
from vaekit.config import RunConfig
from vaekit.models import create


def epoch_seconds(x: torch.Tensor, config: RunConfig, adam_options: dict, n: int) -> float:
    """Train ``n`` images from ``x`` and return the time scaled to an epoch of 60,000, seconds."""
    torch.manual_seed(0)
    model = create(config)
    objective = objectives.create_objective(config, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **adam_options)
    order = torch.randperm(n)
    started = time.perf_counter()
    for step, i in enumerate(range(0, n, 128)):
        loss = objectives.training_loss(objective, model, x[order[i : i + 128]], None, step).loss
        if not torch.isfinite(loss):
            raise RuntimeError("loss is not finite")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) * 60_000 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = RunConfig()
    config.model.encoder, config.model.latent_dim = [400], 20
    config.input_shape, config.value_range = [1, 28, 28], "unit"
    x = torch.rand(args.images, 784)
    for name, options in (("default", {}), ("foreach", {"foreach": True}), ("fused", {"fused": True})):
        print(f"Adam {name:>8}: {epoch_seconds(x, config, options, args.images):.2f} s per 60,000-image epoch")
    if not args.no_profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            epoch_seconds(x, config, {"fused": True}, 6400)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
