"""Micro-measurements of the pieces a training step and an NLL chunk are made of, one subcommand each.

  matmul       the float32 matmul rate this machine reaches (the yardstick of the arithmetic
               floors): a large square, the MNIST VAE's batch-128 shapes, one NLL chunk
  mm           the classic VAE's five large matmuls at batch 128 (forward, weight gradient,
               input gradient), then the six small matmuls of its latent part
  elementwise  ns per element of the Bernoulli log-normaliser's candidates (softplus and its
               exact rewrites) and of the vectorised kernels (exp, log, sigmoid; NumPy's tanh, exp
               and log as the fused passes call them) on 10^6 float32 values, one thread; with --compiled also a torch.compile'd softplus-and-sum of
               one NLL chunk of logits against the eager one
  gather       one batch of 128 uint8 MNIST-sized rows by advanced indexing and by index_select
  adam         one fused Adam step of the 784-400-20 VAE's parameters through optimizer.step(),
               the public functional torch.optim.adam.adam, vaekit's DirectAdamStep and the
               kernel alone; and counting a step in per-parameter step tensors against one tensor
  bce          the fused step's Bernoulli term on one [128, 784] batch (per-example
               log-likelihood and the residual x - sigmoid(l)): ATen's BCE-with-logits plus
               sigmoid against the fused step's exp-based form
  chunk        -log p(x|z) of one NLL chunk of the 784-400-20 decoder's last layer (10 samples x
               100 binary images) four ways, and the bare matmul for scale
  step         whole training steps (forward, backward, Adam) on one repeated batch: train.fast
               "off" (autograd, Adam's for-loop, foreach and fused kernels) against "auto" (the
               fused step and DirectAdamStep), for a tiny 16-16-2 model at batch 8 (Python and
               dispatch) and the 784-400-20 model at batch 128; --profile adds profiler tables
  paper-steps  whole training steps of the paper table's models (bench.paper_table: Burda et al.'s
               one- and two-stochastic-layer MNIST nets, tanh, batch 20) on the ELBO and the IWAE
               bound with k = 5 and 50, train.fast "off" (autograd) against "auto" (the fused step)
  grad-error   how far --precision bf16-grad moves the fused step's gradients, against how far
               fp32's gradients move between two draws of the step's noise on the same batch, for
               issue 5's model at batch 128 and the paper table's models at batch 20, on real
               binarised MNIST batches at the models' starting weights (or a run's, --run RUN)
  ab           the training step of another source tree against this one's, in one machine
               moment: two worker processes (each importing its own tree's vaekit, both run by
               this tree's bench) train issue 5's model, or with --paper MODEL:OBJECTIVE one of
               paper-steps' (e.g. two-layers:iwae-k50, at batch 20 on binarised images), on the
               same MNIST batches in alternating blocks of steps; separate runs on a shared VM
               differ by more than a change of a few per cent. Make the other tree with
               `git worktree add ../vaekit-REV REV` (or `git archive REV src | tar -x -C DIR`).
               --precision P sets this side's train.precision (the other side's stays fp32);
               with it the other tree may be this one: `ab . --precision bf16-grad`

    python -m bench.kernels matmul                       # make bench's first line
    python -m bench.kernels adam
    python -m bench.kernels step --rounds 7 [--profile]
    python -m bench.kernels paper-steps --threads 1
    python -m bench.kernels grad-error [--batches 5] [--run RUN]
    python -m bench.kernels ab ../vaekit-REV [--block 20] [--rounds 150] [--paper two-layers:iwae-k50]
    python -m bench.kernels ab . --precision bf16-grad --paper two-layers:iwae-k50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import FAST_MODES, ROOT, script_parser


def matmul(args: argparse.Namespace) -> None:
    import torch

    from bench.common import gflops, machine_line

    torch.set_num_threads(args.threads)
    shapes = {
        "square 2048": (2048, 2048, 2048),
        "batch 128: 784->400": (128, 784, 400),
        "batch 128: 400->784": (128, 400, 784),
        "eval chunk: 100000x200 @ 200x784": (100_000, 200, 784),
    }
    print(machine_line(args.threads))
    for name, shape in shapes.items():
        print(f"{name:>34}: {gflops(*shape):7.1f} GFLOP/s")


def mm(args: argparse.Namespace) -> None:
    import torch

    from bench.common import best_us

    torch.set_num_threads(args.threads)
    x, w1, d1 = torch.rand(128, 784), torch.randn(400, 784), torch.randn(128, 400)
    h, w4, dl = torch.randn(128, 400), torch.randn(784, 400), torch.randn(128, 784)
    flop = 2 * 128 * 784 * 400
    cases = {
        "x @ W1.t()  [128,784]@[784,400]": lambda: torch.mm(x, w1.t()),
        "d1.t() @ x  [400,128]@[128,784]": lambda: torch.mm(d1.t(), x),
        "h @ W4.t()  [128,400]@[400,784]": lambda: torch.mm(h, w4.t()),
        "dl.t() @ h  [784,128]@[128,400]": lambda: torch.mm(dl.t(), h),
        "dl @ W4     [128,784]@[784,400]": lambda: torch.mm(dl, w4),
    }
    print(f"the classic VAE's large matmuls at batch 128, {args.threads} threads:")
    for name, fn in cases.items():
        us = best_us(fn, 300)
        print(f"  {name}: {us:.0f} us, {flop / us / 1e3:.0f} GFLOP/s")
    # The latent part's six small matmuls (both heads as one [400, 40] layer, the 20 -> 400 layer).
    heads, heads_bias, grad_heads = torch.randn(40, 400), torch.randn(40), torch.randn(128, 40)
    z, w3, b3, d3 = torch.randn(128, 20), torch.randn(400, 20), torch.randn(400), torch.randn(128, 400)
    small = {
        "heads  addmm [128,400]@[400,40]": lambda: torch.addmm(heads_bias, h, heads.t()),
        "heads  grad  [40,128]@[128,400]": lambda: torch.mm(grad_heads.t(), h),
        "heads  input [128,40]@[40,400]": lambda: torch.mm(grad_heads, heads),
        "fc3    addmm [128,20]@[20,400]": lambda: torch.addmm(b3, z, w3.t()),
        "fc3    grad  [400,128]@[128,20]": lambda: torch.mm(d3.t(), z),
        "fc3    input [128,400]@[400,20]": lambda: torch.mm(d3, w3),
    }
    times = {name: best_us(fn, 300) for name, fn in small.items()}
    print(f"the latent part's small matmuls, {args.threads} threads: {sum(times.values()):.0f} us in all")
    for name, us in times.items():
        print(f"  {name}: {us:.0f} us")


def elementwise(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    from bench.common import best_us
    from vaekit.nets.layers import exp_in_place, log_in_place, tanh_in_place

    torch.set_num_threads(1)
    v = torch.randn(1_000_000) * 4
    pos = v.abs() + 0.5
    cases = {
        "exp": lambda: torch.exp(v),
        "exp_in_place (NumPy's exp)": lambda: exp_in_place(v.clone()),
        "log": lambda: torch.log(pos),
        "log_in_place (NumPy's log)": lambda: log_in_place(pos.clone()),
        "log1p": lambda: torch.log1p(pos),
        "sigmoid": lambda: torch.sigmoid(v),
        "tanh (ATen)": lambda: torch.tanh(v),
        "tanh_in_place (NumPy's tanh)": lambda: tanh_in_place(v.clone()),
        "clone (the NumPy lines' copy)": lambda: v.clone(),
        "softplus (ATen)": lambda: F.softplus(v),
        "logsigmoid (ATen)": lambda: F.logsigmoid(v),
        "relu(l) + log1p(exp(-|l|))": lambda: v.clamp_min(0).add_(v.abs().neg_().exp_().log1p_()),
        "relu(l) - log(sigmoid(|l|))": lambda: v.clamp_min(0).sub_(torch.sigmoid(v.abs()).log_()),
    }
    print("ns per element, 10^6 float32 values, 1 thread:")
    for name, fn in cases.items():
        print(f"  {name:>28}: {best_us(fn, 20) * 1e3 / v.numel():.2f}")
    if args.compiled:
        torch.set_num_threads(args.threads)
        logits, x = torch.randn(10, 100, 784) * 4, torch.bernoulli(torch.rand(100, 784))

        def lik(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return (logits * x).sum(-1) - F.softplus(logits).sum(-1)

        fused = torch.compile(lik, dynamic=False)
        with torch.inference_mode():
            started = time.perf_counter()
            fused(logits, x)
            compile_s = time.perf_counter() - started
            eager_us = best_us(lambda: lik(logits, x), 200, 3)
            fused_us = best_us(lambda: fused(logits, x), 200, 3)
        print(
            f"softplus-and-sum of one NLL chunk [10, 100, 784], {args.threads} threads: eager {eager_us:.0f} us, "
            f"compiled {fused_us:.0f} us (after {compile_s:.1f} s compiling)"
        )


def gather(args: argparse.Namespace) -> None:
    import torch

    from bench.common import best_us

    torch.set_num_threads(args.threads)
    x = torch.randint(0, 256, (60_000, 784), dtype=torch.uint8)
    index = torch.randperm(60_000)[:128]
    print(f"128 uint8 rows of 784, {args.threads} threads:")
    print(f"  advanced indexing x[index]: {best_us(lambda: x[index], 2000):.1f} us")
    print(f"  torch.index_select:         {best_us(lambda: torch.index_select(x, 0, index), 2000):.1f} us")


def adam(args: argparse.Namespace) -> None:
    import torch
    from torch.optim.adam import adam as functional_adam

    from bench.common import best_us, build_model, direct_adam_step, mlp_vae_config

    torch.set_num_threads(args.threads)
    params = list(build_model(mlp_vae_config()).parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    optimizer.step()
    states = [optimizer.state[p] for p in params]
    moments = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
    steps, grads = [s["step"] for s in states], [p.grad for p in params]

    @torch.no_grad()
    def functional() -> None:
        functional_adam(
            params, grads, *moments, [], steps, fused=True, amsgrad=False, beta1=0.9, beta2=0.999, lr=1e-3,
            weight_decay=0.0, eps=1e-8, maximize=False,
        )

    direct = direct_adam_step(torch.optim.Adam(params, lr=1e-3, fused=True))
    direct()  # the first call is Adam.step itself
    kernel = torch._fused_adam_
    kernel_args = [params, grads, *moments, [], steps]
    kernel_kwargs = dict(amsgrad=False, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, maximize=False)
    print(f"fused Adam, {sum(p.numel() for p in params)} parameters, {args.threads} threads, best of 5 x 500 calls:")
    print(f"  optimizer.step():                          {best_us(optimizer.step, 500):.0f} us")
    print(f"  torch.optim.adam.adam(...):                 {best_us(functional, 500):.0f} us")
    print(f"  vaekit's DirectAdamStep:                    {best_us(direct, 500):.0f} us")
    print(f"  the kernel alone (torch._fused_adam_(...)): {best_us(lambda: kernel(*kernel_args, **kernel_kwargs), 500):.0f} us")
    counts = torch.stack([s.detach() for s in steps])
    print(f"  counting a step: torch._foreach_add_ over the {len(steps)} 0-d step tensors "
          f"{best_us(lambda: torch._foreach_add_(steps, 1), 500):.1f} us, one add_ on a tensor of them "
          f"{best_us(lambda: counts.add_(1), 500):.1f} us")


def bce(args: argparse.Namespace) -> None:
    import statistics

    import torch
    import torch.nn.functional as F

    from bench.common import bernoulli_recon_and_residual, best_us

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Logits like a trained model's (mostly confident "black"), grey levels with many zeros.
    logits = torch.randn(128, 784) * 4 - 6
    x = torch.rand(128, 784).mul_(torch.rand(128, 784) < 0.2)
    exp_form = bernoulli_recon_and_residual()

    def aten() -> tuple[torch.Tensor, torch.Tensor]:
        recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return recon, torch.sub(x, torch.sigmoid(logits))

    cases = {"BCE-with-logits + sigmoid (ATen)": aten, "exp form (the fused step)": lambda: exp_form(logits, x)}
    (r0, g0), (r1, g1) = aten(), exp_form(logits, x)
    names, times = list(cases), {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name in names[round_ % 2 :] + names[: round_ % 2]:
            times[name].append(best_us(cases[name], 300, 3))
    print(f"Bernoulli log-likelihood and gradient of a [128, 784] batch, {args.threads} threads, median of {args.rounds} rounds:")
    for name in names:
        print(f"  {name:>32}: {statistics.median(times[name]):.0f} us")
    print(f"  largest difference: {(r1 - r0).abs().max():.2e} nats per example, {(g1 - g0).abs().max():.2e} in the gradient")


def chunk(args: argparse.Namespace) -> None:
    import statistics

    import torch
    import torch.nn.functional as F

    from bench.common import best_us, rotated

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    size, batch, width, dim = 10, 100, 400, 784
    h = torch.relu(torch.randn(size * batch, width))
    weight, bias = torch.randn(dim, width) * 0.05, torch.randn(dim)
    x = torch.bernoulli(torch.rand(batch, dim))
    sign = 1 - 2 * x
    signed_bias = sign * bias
    out = torch.empty(size * batch, dim)

    def generic() -> torch.Tensor:
        logits = F.linear(h, weight, bias).reshape(size, batch, dim)
        return torch.einsum("...d,...d->...", logits, x) - F.softplus(logits).sum(-1)

    def sign_new_tensor() -> torch.Tensor:
        signed = torch.mul(F.linear(h, weight, bias).reshape(size, batch, dim), sign)
        return signed.exp_().add_(1).log_().sum(-1).neg_()

    def sign_in_place() -> torch.Tensor:
        signed = F.linear(h, weight, bias).reshape(size, batch, dim).mul_(sign)
        return signed.exp_().add_(1).log_().sum(-1).neg_()

    def sign_reused_buffer() -> torch.Tensor:
        logits = torch.mm(h, weight.t(), out=out).view(size, batch, dim)
        signed = torch.addcmul(signed_bias, logits, sign, out=logits)
        return signed.exp_().add_(1).log_().sum(-1).neg_()

    cases = {
        "matmul alone (mm, reused out)": lambda: torch.mm(h, weight.t(), out=out),
        "generic: x.l - softplus(l)": generic,
        "sign form, new tensor": sign_new_tensor,
        "sign form, in place": sign_in_place,
        "sign form, reused buffer (fused)": sign_reused_buffer,
    }
    reference = generic()
    for name, fn in list(cases.items())[2:]:
        assert torch.allclose(fn(), reference, atol=1e-3), name
    names, times = list(cases), {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name in rotated(names, round_):
            times[name].append(best_us(cases[name], 30, 3))
    print(f"-log p(x|z) of one chunk [10, 100, 784] from [1000, 400] @ [400, 784], {args.threads} threads, "
          f"median of {args.rounds} rounds:")
    for name in names:
        print(f"  {name:>34}: {statistics.median(times[name]):.0f} us")


#: the training steps of ``step``: (train.fast, torch.optim.Adam's keyword arguments or None for the loop's own)
STEP_VARIANTS = {
    "off, Adam for-loop": ("off", {"foreach": False}),
    "off, Adam foreach": ("off", {"foreach": True}),
    "off, Adam fused": ("off", {"fused": True}),
    "auto": ("auto", None),
}


def step(args: argparse.Namespace) -> None:
    import statistics

    import torch

    from bench.common import build_model, machine_line, mlp_vae_config, rotated, training_step

    torch.set_num_threads(args.threads)
    print(f"{machine_line(args.threads)}: whole training steps on one repeated batch, "
          f"microseconds per step, median of {args.rounds} rounds of {args.reps} steps")
    names = list(STEP_VARIANTS)
    for inputs, hidden, latent, batch in ((16, 16, 2, 8), (784, 400, 20, 128)):
        config = mlp_vae_config(inputs, (hidden,), latent)
        torch.manual_seed(0)
        x = torch.rand(batch, inputs)
        steps = {}
        for name, (fast, adam_options) in STEP_VARIANTS.items():
            torch.manual_seed(0)
            steps[name] = training_step(config, build_model(config), fast, adam_options)
            for _ in range(5):  # the first Adam step builds its state
                steps[name][0](x)
        times: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in rotated(names, round_):
                fn = steps[name][0]
                started = time.perf_counter()
                for _ in range(args.reps):
                    fn(x)
                times[name].append((time.perf_counter() - started) / args.reps * 1e6)
        print(f"  {inputs}-{hidden}-{latent}, batch {batch}:")
        for name in names:
            us = statistics.median(times[name])
            epoch = f" = {us * 1e-6 * -(-60_000 // batch):.2f} s per 60,000-image epoch" if inputs == 784 else ""
            print(f"    fast={name:<20} {steps[name][1]:>8} step: {us:7.0f} us{epoch}")
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            for name in ("off, Adam fused", "auto"):
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    for _ in range(50):
                        steps[name][0](x)
                print(f"\n  fast={name}, 50 steps:")
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


#: the paper table's models (Burda et al. 2015, MNIST): vaekit model name and its options
PAPER_MODELS = {
    "one layer 784-200-200-50": ("vae", [200, 200], 50, {}),
    "two layers 784-200-200-100-100-100-50": ("hvae", [200, 200], 100, {"upper_latents": [50], "upper_hidden": [[100, 100]]}),
}
#: the paper table's objectives timed by ``paper-steps``
PAPER_OBJECTIVES = {"elbo": {"name": "elbo"}, "iwae k=5": {"name": "iwae", "k": 5}, "iwae k=50": {"name": "iwae", "k": 50}}
#: ``ab --paper MODEL:OBJECTIVE``'s names of the paper models and objectives
PAPER_MODEL_KEYS = dict(zip(("one-layer", "two-layers"), PAPER_MODELS, strict=True))
PAPER_OBJECTIVE_KEYS = dict(zip(("elbo", "iwae-k5", "iwae-k50"), PAPER_OBJECTIVES, strict=True))
#: ``ab``'s batch: issue 5's model at 128, the paper table's at Burda et al.'s 20
AB_BATCH, PAPER_BATCH = 128, 20


def paper_choice(text: str) -> tuple[str, str]:
    """Return the (model, objective) labels ``ab --paper MODEL:OBJECTIVE`` names, or exit
    naming the choices."""
    model_key, _, objective_key = text.partition(":")
    if model_key not in PAPER_MODEL_KEYS or objective_key not in PAPER_OBJECTIVE_KEYS:
        sys.exit(f"ab: --paper takes MODEL:OBJECTIVE with MODEL one of {', '.join(PAPER_MODEL_KEYS)} and "
                 f"OBJECTIVE one of {', '.join(PAPER_OBJECTIVE_KEYS)}, e.g. two-layers:iwae-k50; got {text!r}")  # fmt: skip
    return PAPER_MODEL_KEYS[model_key], PAPER_OBJECTIVE_KEYS[objective_key]


def paper_steps(args: argparse.Namespace) -> None:
    import statistics

    import torch

    from bench.common import build_model, machine_line, rotated, training_step

    torch.set_num_threads(args.threads)
    print(f"{machine_line(args.threads)}: the paper table's training steps at batch {args.batch} on one repeated "
          f"binary batch, train.fast off (autograd) against auto, median of {args.rounds} alternating rounds "
          f"of {args.reps} steps")  # fmt: skip
    torch.manual_seed(0)
    x = torch.bernoulli(torch.rand(args.batch, 784))
    for model_label in PAPER_MODELS:
        for objective_label in PAPER_OBJECTIVES:
            config = paper_config(model_label, objective_label)
            steps = {}
            for fast in ("off", "auto"):
                torch.manual_seed(0)
                steps[fast] = training_step(config, build_model(config), fast)
                for _ in range(3):  # the first Adam step builds its state
                    steps[fast][0](x)
            times: dict[str, list[float]] = {fast: [] for fast in steps}
            for round_ in range(args.rounds):
                for fast in rotated(list(steps), round_):
                    fn = steps[fast][0]
                    started = time.perf_counter()
                    for _ in range(args.reps):
                        fn(x)
                    times[fast].append((time.perf_counter() - started) / args.reps)
            off, auto = (statistics.median(times[fast]) for fast in ("off", "auto"))
            print(f"  {model_label}, {objective_label}: {steps['off'][1]} {off * 1e3:.2f} ms "
                  f"({args.batch / off:,.0f} examples/s), {steps['auto'][1]} {auto * 1e3:.2f} ms "
                  f"({args.batch / auto:,.0f} examples/s): {off / auto:.2f}x")  # fmt: skip


def fused_gradient(model: Any, objective: Any, precision: str, seed: int, x: Any, min_backward_weight: float = 0.0) -> Any:
    """Return the fused step's whole gradient (float64, flattened) of ``model`` on the batch ``x``
    at ``precision`` (and ``min_backward_weight``), its noise drawn from ``seed``; the weights are
    not changed."""
    import torch

    from vaekit.fast.dense_passes import GRAD_DTYPES
    from vaekit.fast.fused_step import FusedTrainingStep

    step = FusedTrainingStep(
        model, objective, lambda: None, grad_dtype=GRAD_DTYPES[precision], min_backward_weight=min_backward_weight
    )
    torch.manual_seed(seed)
    step(x, None, 0)  # writes every .grad; the optimizer step is a no-op
    return torch.cat([p.grad.flatten() for p in model.parameters()]).double()


def grad_error(args: argparse.Namespace) -> None:
    import statistics

    import torch

    from bench.common import build_model, load_mnist_unit, machine_line, mlp_vae_config
    from vaekit.objectives.iwae import IWAEObjective, importance_weights
    from vaekit.training.build import build_objective

    torch.set_num_threads(args.threads)
    train, _ = load_mnist_unit(None)
    binary = torch.bernoulli(train, generator=torch.Generator().manual_seed(0))
    if args.run_dir:
        import vaekit

        vae = vaekit.load(args.run_dir)
        cases = [(f"{args.run_dir} at its weights", vae.config, vae.config.train.batch_size, vae.model)]
    else:
        cases = [("issue 5's 784-400-20 ReLU VAE, ELBO", mlp_vae_config(value_range="binary"), AB_BATCH, None)]
        cases += [(f"{m}, {o}", paper_config(m, o), PAPER_BATCH, None) for m in PAPER_MODELS for o in PAPER_OBJECTIVES]
    print(f"{machine_line(args.threads)}: relative change of the whole gradient (norm of the difference / norm), "
          f"median over {args.batches} batches")  # fmt: skip
    for label, config, batch, trained in cases:
        torch.manual_seed(0)
        model = build_model(config) if trained is None else trained
        objective = build_objective(config, model)
        weights = args.min_backward_weights if type(objective) is IWAEObjective else []
        rounding, noise = [], []
        light: dict[float, list[float]] = {w: [] for w in weights}
        kept: dict[float, list[float]] = {w: [] for w in weights}
        for b in range(args.batches):
            x = binary[b * batch : (b + 1) * batch]
            ref = fused_gradient(model, objective, "fp32", 1, x)
            rounding.append(float((fused_gradient(model, objective, "bf16-grad", 1, x) - ref).norm() / ref.norm()))
            noise.append(float((fused_gradient(model, objective, "fp32", 2, x) - ref).norm() / ref.norm()))
            if weights:
                torch.manual_seed(1)  # the fused step's draws, so the same normalised weights
                with torch.no_grad():
                    normalised = torch.softmax(importance_weights(model, x, objective.k).log_weights, 0)
            for w in weights:
                got = fused_gradient(model, objective, "fp32", 1, x, min_backward_weight=w)
                light[w].append(float((got - ref).norm() / ref.norm()))
                # Heavy draws all run, a light one with probability w~ / W (the roulette).
                kept[w].append(float(torch.where(normalised >= w, 1.0, normalised / w).mean()))
        print(f"  {label} (batch {batch}): bf16-grad against fp32, same draws: {statistics.median(rounding):.2%}; "
              f"fp32, another draw of the noise: {statistics.median(noise):.1%}")  # fmt: skip
        for w in weights:
            print(f"    min-backward-weight {w:g} against the exact gradient, same draws: {statistics.median(light[w]):.3%}, "
                  f"running the backward of {statistics.median(kept[w]):.0%} of the draws on average")  # fmt: skip


def paper_config(model_label: str, objective_label: str) -> Any:
    """Return the bound ``RunConfig`` of one of the paper table's models (a key of
    :data:`PAPER_MODELS`) on one of its objectives (a key of :data:`PAPER_OBJECTIVES`), for
    binarised MNIST."""
    from vaekit.api import build_config

    model_name, hidden, latent, options = PAPER_MODELS[model_label]
    config = build_config(model=model_name, net={"name": "mlp", "encoder": hidden, "activation": "tanh"},
                          latent_dim=latent, likelihood="bernoulli", objective=PAPER_OBJECTIVES[objective_label],
                          options=options or None)  # fmt: skip
    config.input_shape, config.value_range = [1, 28, 28], "binary"
    return config


def ab_worker(args: argparse.Namespace) -> None:
    """One side of ``ab``: build issue 5's model (or ``--paper``'s, or load ``--run``'s at its
    weights) with the vaekit on the path, then answer "run START BLOCK" lines on stdin with "ms
    <milliseconds per step>" lines on stdout, until "quit"."""
    import math

    import torch

    import vaekit
    from bench.common import build_model, denormals_flushed, load_mnist_unit, mlp_vae_config, training_step
    from vaekit.runtime.errors import ConfigError

    torch.set_num_threads(args.threads)
    with denormals_flushed(args.fast):  # before any op starts torch's thread pool
        train, _ = load_mnist_unit(None)
        model = None
        if args.run_dir:
            trained = vaekit.load(args.run_dir)
            config, model, batch = trained.config, trained.model, trained.config.train.batch_size
        elif args.paper:
            config, batch = paper_config(*paper_choice(args.paper)), PAPER_BATCH
        else:
            config, batch = mlp_vae_config(), AB_BATCH
        if config.value_range == "binary":
            train = torch.bernoulli(train, generator=torch.Generator().manual_seed(0))
        config.train.precision = args.precision
        config.train.min_backward_weight = args.min_backward_weight
        torch.manual_seed(0)
        try:
            fn, name = training_step(config, build_model(config) if model is None else model, args.fast)
        except ConfigError as exc:  # e.g. a precision this side cannot train
            print(json.dumps({"error": str(exc)}), flush=True)
            return
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
        print(json.dumps({"ready": str(Path(vaekit.__file__).resolve()), "step": name}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            start, block = int(words[1]), int(words[2])
            started = time.perf_counter()
            for i in range(block):
                j = (start + batch * i) % (len(train) - batch)
                loss = fn(train[order[j : j + batch]])
                if not math.isfinite(loss.item()):
                    print(json.dumps({"error": "the loss is not finite"}), flush=True)
                    return
            print(json.dumps({"ms": (time.perf_counter() - started) / block * 1e3}), flush=True)


def ab(args: argparse.Namespace) -> None:
    import statistics

    from bench.common import mnist_dir

    if args.worker:
        ab_worker(args)
        return
    from vaekit.config import PRECISIONS

    for option, value in (("--precision", args.precision), ("--other-precision", args.other_precision)):
        if value not in PRECISIONS:
            sys.exit(f"ab: {option} takes one of {', '.join(PRECISIONS)}, got {value!r}")
    trees = {"other": Path(args.other).resolve(), "this": Path(args.this).resolve()}
    settings = {"other": (args.other_precision, 0.0), "this": (args.precision, args.min_backward_weight)}
    if trees["other"] == trees["this"] and settings["other"] == settings["this"]:
        sys.exit("ab: the two trees are the same folder (give another tree, or --precision or --min-backward-weight for this side)")
    if args.paper and args.run_dir:
        sys.exit("ab: give --paper or --run, not both")
    if args.paper:
        paper_choice(args.paper)  # a bad name stops here, before the workers start
    batch = PAPER_BATCH if args.paper else AB_BATCH
    if args.run_dir:
        if not (Path(args.run_dir) / "config.json").exists():
            sys.exit(f"ab: --run {args.run_dir} is no run folder (it has no config.json)")
        batch = json.loads((Path(args.run_dir) / "config.json").read_text())["train"]["batch_size"]
    workers = {}
    for side, tree in trees.items():
        # Each worker imports its own tree's vaekit under this tree's bench (the same harness on
        # both sides); both read the same MNIST files.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree / "src"), str(ROOT)]), VAEKIT_BENCH_MNIST=str(mnist_dir()))
        precision, min_weight = settings[side]
        cmd = [sys.executable, "-m", "bench.kernels", "ab", "--worker", "--threads", str(args.threads), "--fast", args.fast,
               "--precision", precision, "--min-backward-weight", repr(min_weight)]  # fmt: skip
        cmd += ["--paper", args.paper] if args.paper else []
        cmd += ["--run", str(Path(args.run_dir).resolve())] if args.run_dir else []
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = json.loads(proc.stdout.readline() or "{}")
        if "error" in hello:
            sys.exit(f"ab: {tree}: {hello['error']}")
        if "ready" not in hello:
            sys.exit(f"ab: the worker of {tree} did not start (its vaekit may lack what this bench calls)")
        if not hello["ready"].startswith(str(tree)):
            sys.exit(f"ab: the worker of {tree} imported vaekit from {hello['ready']}, not from its own tree")
        print(f"{side}: {tree} ({hello['step']} step, {precision}" + (f", min-backward-weight {min_weight:g})" if min_weight else ")"))
        workers[side] = proc
    times: dict[str, list[float]] = {side: [] for side in workers}
    start = 0
    try:
        for round_ in range(args.rounds):
            for side in list(workers) if round_ % 2 == 0 else list(workers)[::-1]:
                workers[side].stdin.write(f"run {start} {args.block}\n")
                workers[side].stdin.flush()
                reply = json.loads(workers[side].stdout.readline() or '{"error": "the worker exited"}')
                if "error" in reply:
                    sys.exit(f"ab: {trees[side]}: {reply['error']}")
                times[side].append(reply["ms"])
            start += batch * args.block
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.stdin.write("quit\n")
                proc.stdin.close()
                proc.wait(timeout=30)
    for side, values in times.items():
        print(f"{side:>5}: {statistics.median(values):.3f} ms per step (median of {args.rounds} blocks of {args.block})")
    ratios = sorted(new / ref for new, ref in zip(times["this"], times["other"], strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"this / other per round: median {statistics.median(ratios):.3f}, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}")


def main() -> None:
    parser = script_parser(__file__, __doc__)
    sub = parser.add_subparsers(dest="which", required=True, metavar="SUBCOMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], None], summary: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=summary, description=summary)
        command.add_argument("--threads", type=int, default=2)
        command.set_defaults(run=fn)
        return command

    add("matmul", matmul, "the float32 matmul rate at the yardstick shapes")
    add("mm", mm, "the classic VAE's matmuls at batch 128")
    add("elementwise", elementwise, "ns per element of softplus, its rewrites and exp/log/sigmoid").add_argument(
        "--compiled", action="store_true", help="also a torch.compile'd softplus-and-sum (compiles for seconds)"
    )
    add("gather", gather, "128 uint8 rows by advanced indexing and by index_select")
    add("adam", adam, "one fused Adam step four ways, and counting a step")
    add("bce", bce, "the fused step's Bernoulli term against ATen's").add_argument("--rounds", type=int, default=7)
    add("chunk", chunk, "-log p(x|z) of one NLL chunk four ways").add_argument("--rounds", type=int, default=7)
    command = add("step", step, "whole training steps, train.fast off (three Adam kernels) against auto")
    command.add_argument("--rounds", type=int, default=7)
    command.add_argument("--reps", type=int, default=100, help="steps per round")
    command.add_argument("--profile", action="store_true", help="also torch profiler tables of 50 steps")
    command = add("paper-steps", paper_steps, "the paper table's training steps, train.fast off against auto")
    command.add_argument("--batch", type=int, default=PAPER_BATCH)
    command.add_argument("--rounds", type=int, default=7)
    command.add_argument("--reps", type=int, default=20, help="steps per round")
    command = add("grad-error", grad_error, "how far bf16-grad moves the gradients, against the step's own noise")
    command.add_argument("--batches", type=int, default=5)
    command.add_argument("--run", dest="run_dir", help="a run folder: its model at its weights and batch size, instead of the built-in models")
    command.add_argument("--min-backward-weight", dest="min_backward_weights", type=float, action="append", default=[],
                         help="also the gradient of IWAE cases at this train.min_backward_weight (repeatable)")  # fmt: skip
    command = add("ab", ab, "another source tree's training step against this one's, alternating blocks")
    command.add_argument("other", nargs="?", help="the other tree: a checkout of the revision to compare against")
    command.add_argument("--this", default=str(ROOT), help="this side's tree (default: the tree of this script)")
    command.add_argument("--block", type=int, default=20, help="steps per side per round")
    command.add_argument("--rounds", type=int, default=150)
    command.add_argument("--fast", choices=FAST_MODES, default="auto", help="train.fast of both sides")
    command.add_argument("--paper", metavar="MODEL:OBJECTIVE",
                         help="a paper-steps model and objective instead of issue 5's model, e.g. two-layers:iwae-k50")  # fmt: skip
    command.add_argument("--run", dest="run_dir", help="a run folder: both sides train its model from its weights, at its batch size")
    command.add_argument("--precision", default="fp32", help="train.precision of this side")
    command.add_argument("--other-precision", default="fp32", help="train.precision of the other side")
    command.add_argument("--min-backward-weight", type=float, default=0.0, help="train.min_backward_weight of this side (the other's is 0)")
    command.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.which == "ab" and not args.worker and not args.other:
        parser.error("ab: give the other tree")
    args.run(args)


if __name__ == "__main__":
    main()
