"""Throughput of the K-sample NLL against this machine's float32 matmul rate, by NLL path and chunk budget.

Computes the importance-weighted bound with K samples the way `vaekit evaluate` does and reports
seconds, the matmul GFLOP/s (decoder passes plus the encoder), and that rate as a fraction of the
matmul rate this process measures just before at the NLL's widest decoder shape (the rows of one
chunk through the widest layer). With RUN, a trained run's test images as `vaekit evaluate` sees
them (binarised with the fixed seed); without it, the literature's baseline model (784-200-200-50
tanh, Bernoulli), untrained (speed does not depend on the weights), on random binary images.

``--fast`` picks the NLL paths, as ``vaekit.evaluate(fast=...)``: ``auto`` (the default: the fused
chunk where the model qualifies) and ``off`` (the generic chunk: decoder, likelihood, prior and
posterior as modules). ``--budgets`` takes log2 chunk budgets (decoder outputs per chunk; default:
vaekit's). With ``--rounds N`` each (budget, path) runs N times in rotated order and the medians
are reported. ``--profile N`` prints instead a torch profiler table of the first N images.

``--device cuda`` evaluates on the GPU (the fused chunk is the CPU's: there every path is the
generic one). The yardstick is then also a large square matmul (``--square``, 8192 on a GPU, 2048
on a CPU; 0 skips it) in float32 and bfloat16: the NLL runs in float32 (with torch's float32
matmul precision, printed), so its fraction of the float32 square's rate is what it reaches of the
device; the bfloat16 rate shows what lower precision could reach.

    python -m bench.nll_speed runs/classic-bin --k 5000 --fast auto,off     # the docs' figure
    python -m bench.nll_speed runs/classic-bin --images 300 --fast auto,off --rounds 3
    python -m bench.nll_speed --budgets 19,20,21,24                        # untrained, 40 images
    python -m bench.nll_speed runs/classic-bin --k 2000 --profile 100 --fast off   # where the time goes
    python -m bench.nll_speed --device cuda --images 2000 --budgets 21,24,26     # on a GPU (bench/gpu_check.sh)
"""

from __future__ import annotations

import time

from bench.common import FAST_MODES, csv_choices, script_parser

UNTRAINED_IMAGES = 40


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("run_dir", nargs="?", help="a trained run folder (default: the untrained baseline model)")
    parser.add_argument("--k", type=int, default=5000, help="importance samples (default 5000)")
    parser.add_argument("--images", type=int, help=f"the first N test images (default: all of RUN's, {UNTRAINED_IMAGES} without RUN)")
    parser.add_argument("--fast", type=csv_choices(FAST_MODES), default="auto", help="comma-separated NLL paths: auto, off")
    parser.add_argument("--budgets", help="comma-separated log2 chunk budgets (default: vaekit's)")
    parser.add_argument("--rounds", type=int, default=1, help="times each (budget, path) runs, in rotated order")
    parser.add_argument("--profile", type=int, metavar="N", help="only profile the bound of the first N images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument(
        "--square", type=int, help="side of the large square matmul measured as the yardstick (default 8192 on a "
        "GPU, 2048 on a CPU; 0: none)",
    )
    args = parser.parse_args()

    import statistics

    import torch

    from bench.common import (
        gflops,
        linear_layers,
        log_likelihood_bounds,
        machine_line,
        matmul_flops,
        nll_chunk_budget,
        nll_chunk_rows,
        nll_path,
        rotated,
    )

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.run_dir:
        from bench.common import run_test_examples

        model, x = run_test_examples(args.run_dir)
        x = x[: args.images] if args.images else x
        name = args.run_dir
    else:
        from bench.common import build_model, mlp_vae_config

        torch.manual_seed(0)
        model = build_model(mlp_vae_config(784, (200, 200), 50, "tanh", value_range="binary")).eval()
        x = torch.bernoulli(torch.rand(args.images or UNTRAINED_IMAGES, 784))
        name = "untrained 784-200-200-50 tanh, random binary images"
    model, x = model.to(device), x.to(device)
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else [nll_chunk_budget().bit_length() - 1]
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        log_likelihood_bounds(model, x[:10], 100, 2 ** budgets[0], args.fast[0])  # warm up
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            log_likelihood_bounds(model, x[: args.profile], args.k, 2 ** budgets[0], args.fast[0])
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        return

    layers = linear_layers(model.decoder)
    flop = len(x) * args.k * matmul_flops(layers) + len(x) * matmul_flops(linear_layers(model.encoder))
    widest = max(layers, key=lambda layer: layer.in_features * layer.out_features)
    print(f"{machine_line(args.threads, device)}\n{name}: {len(x)} images, K = {args.k}, {flop / 1e12:.3f} TFLOP of matmuls")
    if device.type == "cuda":
        print(f"float32 matmul precision: {torch.get_float32_matmul_precision()} ('highest': no TF32)")
    square = args.square if args.square is not None else (8192 if device.type == "cuda" else 2048)
    square_fp32 = None
    if square:
        square_fp32 = gflops(square, square, square, seconds_budget=2.0, device=device)
        square_bf16 = gflops(square, square, square, seconds_budget=2.0, device=device, dtype=torch.bfloat16)
        print(f"large square matmul [{square}]^3: float32 {square_fp32 / 1e3:.2f} TFLOP/s, "
              f"bfloat16 {square_bf16 / 1e3:.2f} TFLOP/s")
    peaks = {}
    for budget in budgets:
        rows = nll_chunk_rows(args.k, len(x), x.shape[1], 2**budget)
        peaks[budget] = gflops(rows, widest.in_features, widest.out_features, seconds_budget=3.0, device=device)
        print(f"budget 2^{budget}: matmul rate at [{rows}, {widest.in_features}] @ "
              f"[{widest.in_features}, {widest.out_features}]: {peaks[budget]:.1f} GFLOP/s")
    if device.type == "cuda":
        # CUDA loads each kernel at its first call: not part of any case's time.
        for budget in budgets:
            log_likelihood_bounds(model, x[:10], 100, 2**budget, args.fast[0])
    cases = [(budget, mode) for budget in budgets for mode in args.fast]
    seconds: dict[tuple[int, str], list[float]] = {case: [] for case in cases}
    nll: dict[tuple[int, str], float] = {}
    for round_ in range(args.rounds):
        for case in rotated(cases, round_):
            started = time.perf_counter()
            bounds = log_likelihood_bounds(model, x, args.k, 2 ** case[0], case[1])
            seconds[case].append(time.perf_counter() - started)
            nll[case] = -bounds.mean().item()
    best: tuple[float, int, str] | None = None  # (GFLOP/s, budget, path) of the fastest case
    for budget in budgets:
        for mode in args.fast:
            median = statistics.median(seconds[budget, mode])
            best = max(best or (0.0, budget, mode), (flop / median / 1e9, budget, mode))
            rate = flop / median / 1e9
            rounds = ", ".join(f"{s:.1f}" for s in seconds[budget, mode])
            print(
                f"budget 2^{budget}, fast={mode:<4} ({nll_path(model, x, mode)} chunk): NLL {nll[budget, mode]:.3f} nats, {median:.1f} s (rounds: {rounds}; "
                f"{median * 10_000 / len(x) / 60:.1f} min per 10,000 images), "
                f"{rate:.1f} GFLOP/s = {100 * rate / peaks[budget]:.0f} % of the matmul rate"
                + (f", {100 * rate / square_fp32:.1f} % of the float32 square's" if square_fp32 else "")
            )
    if best is not None:
        # One line to quote (bench/gpu_check.sh's summary table takes it).
        rate, budget, mode = best
        against = (
            f"{100 * rate / square_fp32:.1f} % of the float32 square's {square_fp32 / 1e3:.2f} TFLOP/s "
            f"(bfloat16 square: {square_bf16 / 1e3:.2f} TFLOP/s)"
            if square_fp32
            else f"{100 * rate / peaks[budget]:.0f} % of the matmul rate at its shape"
        )
        print(f"summary: {device.type}, best NLL rate {rate:.1f} GFLOP/s (budget 2^{budget}, fast={mode}) = {against}")


if __name__ == "__main__":
    main()
