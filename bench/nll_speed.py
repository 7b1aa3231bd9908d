"""Throughput of the K-sample NLL of a trained run against the machine's matmul rate.

Evaluates the run's test images (as `vaekit evaluate` sees them: binarised with the fixed seed)
with `log_likelihood_bounds`, the function `vaekit evaluate` calls, and reports seconds, the
matmul GFLOP/s (decoder passes plus the encoder), and that rate as a fraction of the float32
matmul rate this process measures just before at the NLL's largest decoder shape (the rows of
one chunk through the widest layer). ``--modes`` picks the paths: ``fused`` (the default path: the
fused chunk where the model qualifies), ``generic`` (``fused=False``: decoder, likelihood, prior
and posterior as modules) and ``compiled`` (the generic chunk through ``torch.compile``: an
experiment, compiling first on the first 100 images). With ``--rounds N`` the modes run N times
each in rotated order and the medians are reported.

    python -m bench.nll_speed runs/bench-mnist-nll-30 [--k 5000] [--images 10000] [--modes fused,generic]
    python -m bench.nll_speed runs/classic-bin --images 500 --modes fused,generic --rounds 3
    python -m bench.nll_speed runs/classic-bin --k 2000 --profile 100 [--modes generic]   # where the time goes
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import vaekit
import vaekit.api
from bench.matmul_rate import gflops
from bench.mnist_nll import linear_layers, matmul_flops
from vaekit.evaluation import iwae
from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS, chunk_sizes, log_likelihood_bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--images", type=int, default=10_000, help="the first N test images")
    parser.add_argument("--modes", default="fused", help="comma-separated: fused, generic, compiled")
    parser.add_argument("--rounds", type=int, default=1, help="times each mode runs, in rotated order")
    parser.add_argument("--profile", type=int, metavar="N", help="only profile the bound of the first N images (K as given)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=int, default=DEFAULT_MAX_CHUNK_ELEMENTS.bit_length() - 1, help="log2 of the chunk budget")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    vae = vaekit.load(args.run_dir)
    x, _ = vaekit.api.resolve_eval_data(vae, None, "test")
    x = x[: args.images]
    modes = args.modes.split(",")
    unknown = set(modes) - {"fused", "generic", "compiled"}
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}: choose from fused, generic, compiled")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        fused = modes[0] == "fused"
        log_likelihood_bounds(vae.model, x[:10], 100, fused=fused)  # warm up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            log_likelihood_bounds(vae.model, x[: args.profile], args.k, max_chunk_elements=2**args.budget, fused=fused)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        return
    layers = linear_layers(vae.model.decoder)
    flop = len(x) * args.k * matmul_flops(layers) + len(x) * matmul_flops(linear_layers(vae.model.encoder))
    budget = 2**args.budget
    batch = max(100, budget // (args.k * x.shape[1]))
    rows = chunk_sizes(args.k, batch * x.shape[1], budget, equal=True)[0] * batch
    widest = max(layers, key=lambda layer: layer.in_features * layer.out_features)
    peak = gflops(rows, widest.in_features, widest.out_features, seconds_budget=3.0)
    print(
        f"{args.run_dir}: {len(x)} images, K = {args.k}, {flop / 1e12:.2f} TFLOP of matmuls; "
        f"matmul rate at [{rows}, {widest.in_features}] @ [{widest.in_features}, {widest.out_features}]: "
        f"{peak:.1f} GFLOP/s ({args.threads} threads)"
    )
    generic_chunk = iwae.chunk_log_weights
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    nll: dict[str, float] = {}
    for round_ in range(args.rounds):
        for mode in modes[round_ % len(modes) :] + modes[: round_ % len(modes)]:
            iwae.chunk_log_weights = generic_chunk
            if mode == "compiled":
                # The module's chunk function, swapped for a compiled copy (bench only).
                iwae.chunk_log_weights = torch.compile(generic_chunk, dynamic=False)
                started = time.perf_counter()
                log_likelihood_bounds(vae.model, x[:100], args.k, fused=False)
                print(f"  compiling and the first 100 images: {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            bounds = log_likelihood_bounds(vae.model, x, args.k, max_chunk_elements=budget, fused=mode == "fused")
            seconds[mode].append(time.perf_counter() - started)
            nll[mode] = -bounds.mean().item()
    iwae.chunk_log_weights = generic_chunk
    for mode in modes:
        median = statistics.median(seconds[mode])
        rate = flop / median / 1e9
        rounds = ", ".join(f"{s:.1f}" for s in seconds[mode])
        print(
            f"  {mode:>8}: NLL {nll[mode]:.3f} nats, {median:.1f} s (rounds: {rounds}), "
            f"{rate:.1f} GFLOP/s = {100 * rate / peak:.0f} % of the matmul rate"
        )

if __name__ == "__main__":
    main()
