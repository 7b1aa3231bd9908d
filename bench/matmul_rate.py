"""The float32 matmul rate this machine reaches, the yardstick for the arithmetic floors in docs/benchmarks.md.

Measures GFLOP/s of ``[M, K] @ [K, N]`` at a large square shape and at the MNIST VAE's batch-128 shapes.

    python -m bench.matmul_rate [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

SHAPES = {
    "square 2048": (2048, 2048, 2048),
    "batch 128: 784->400": (128, 784, 400),
    "batch 128: 400->784": (128, 400, 784),
    "eval chunk: 100000x200 @ 200x784": (100_000, 200, 784),
}


def gflops(m: int, k: int, n: int, seconds_budget: float = 1.0) -> float:
    """Return the sustained GFLOP/s of an m x k by k x n float32 matmul (2mkn flops each)."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)
    reps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds_budget:
        torch.mm(a, b, out=out)
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    for name, shape in SHAPES.items():
        print(f"{name:>34}: {gflops(*shape):7.1f} GFLOP/s")


if __name__ == "__main__":
    main()
