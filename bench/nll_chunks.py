"""Throughput of the importance-sampled NLL against its chunk budget (and, optionally, torch.compile).

The literature's MNIST baseline decoder (784-200-200-50 tanh, Bernoulli), untrained (speed does not
depend on the weights), K = 5000 samples for a few random binary images; prints seconds, the
extrapolated minutes for the 10,000 test images and the decoder's matmul GFLOP/s per budget.

    python -m bench.nll_chunks [--threads 2] [--images 40] [--budgets 19,20,21,24] [--profile] [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch

from vaekit.config import RunConfig
from vaekit.evaluation.iwae import log_likelihood_bounds
from vaekit.models import create

DECODER_FLOP = 2 * (50 * 200 + 200 * 200 + 200 * 784)  # one decoder pass, multiply-adds x 2


def baseline_model() -> torch.nn.Module:
    """Return the untrained 784-200-200-50 tanh Bernoulli VAE."""
    config = RunConfig()
    config.model.encoder, config.model.latent_dim, config.model.activation = [200, 200], 50, "tanh"
    config.input_shape, config.value_range = [1, 28, 28], "binary"
    return create(config).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--budgets", default="19,20,21,24", help="log2 of the chunk budgets (decoder outputs)")
    parser.add_argument("--profile", action="store_true", help="print a torch profiler table of the 2^20 budget")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile'd decoder + likelihood chunk")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = baseline_model()
    x = torch.bernoulli(torch.rand(args.images, 784))
    flop = DECODER_FLOP * args.k * args.images
    for log2 in (int(b) for b in args.budgets.split(",")):
        started = time.perf_counter()
        log_likelihood_bounds(model, x, args.k, max_chunk_elements=2**log2)
        seconds = time.perf_counter() - started
        print(
            f"budget 2^{log2}: {seconds:.2f} s -> {seconds * 10_000 / args.images / 60:.1f} min for 10,000 images, "
            f"{flop / seconds / 1e9:.1f} GFLOP/s"
        )
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            log_likelihood_bounds(model, x, args.k, max_chunk_elements=2**20)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    if args.compile:
        samples, batch = 133, 10
        z, xb = torch.randn(samples * batch, 50), x[:batch]

        def chunk(z: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
            return model.likelihood.log_prob(xb, model.decode(z).reshape(samples, batch, -1))

        def rate(fn) -> float:
            with torch.inference_mode():
                fn(z, xb)
                started = time.perf_counter()
                for _ in range(30):
                    fn(z, xb)
                return DECODER_FLOP * samples * batch * 30 / (time.perf_counter() - started) / 1e9

        print(f"chunk of {samples} x {batch}: eager {rate(chunk):.1f} GFLOP/s")
        started = time.perf_counter()
        compiled = torch.compile(chunk)
        with torch.inference_mode():
            compiled(z, xb)
        print(f"compile: {time.perf_counter() - started:.1f} s; compiled {rate(compiled):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
