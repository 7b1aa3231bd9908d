"""Micro-benchmarks behind the per-operation numbers in docs/benchmarks.md.

- ``elementwise``: ns per element of the Bernoulli log-normaliser's candidates (softplus and its
  exact rewrites) and of the fast vectorised kernels (exp, log, sigmoid) on 10^6 float32 values,
  one thread, best of 20; with ``--compiled`` also a torch.compile'd softplus-and-sum against the
  eager one on one NLL chunk of logits (10 samples x 100 images x 784), 2 threads.
- ``gather``: one batch of 128 uint8 MNIST-sized rows by advanced indexing and by index_select.
- ``adam``: one fused Adam step of the 784-400-20 VAE's parameters through ``optimizer.step()``,
  through the public functional ``torch.optim.adam.adam``, through vaekit's ``DirectAdamStep``,
  and the kernel alone (the optimizer's Python overhead); and counting a step in the per-parameter
  step tensors against one tensor of them.
- ``mm``: the classic VAE's large matmuls at batch 128 (forward, weight gradient, input gradient),
  then the six small matmuls of its latent part.
- ``bce``: the fused training step's Bernoulli term on one batch of 128 MNIST-like rows (the
  per-example log-likelihood and the residual ``x - sigmoid(l)``, the gradient up to the batch
  mean's scale): ATen's BCE-with-logits plus ``sigmoid``, against the step's ``exp``-based form.
- ``chunk``: -log p(x|z) of one NLL chunk of the 784-400-20 decoder's last layer (10 samples x
  100 binary images, [1000, 400] @ [400, 784]) computed four ways, in rotated rounds: the generic
  ``x.l - softplus(l)``, and ``sum log(1 + exp(s l))`` (s = 1 - 2x) into a new tensor, in place
  on the decoder's output, and in a reused buffer with the bias folded into the sign's pass (the
  fused chunk's form); and the bare matmul for scale.
- ``step``: the fused training step (no optimizer) on one repeated batch, for a tiny MLP
  (16-16-2, batch 8: its time is Python and dispatch, the tensors are too small to matter) and for
  the 784-400-20 model at batch 128; and the Adam step (``DirectAdamStep``) of each.

    python -m bench.kernels [elementwise|gather|adam|mm|bce|chunk|step ...] [--compiled]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


def best_us(fn: Callable[[], object], reps: int, rounds: int = 5) -> float:
    """Return the best of ``rounds`` mean times of ``reps`` calls of ``fn``, in microseconds."""
    for _ in range(5):
        fn()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - started) / reps * 1e6)
    return best


def elementwise(compiled: bool) -> None:
    torch.set_num_threads(1)
    v = torch.randn(1_000_000) * 4
    pos = v.abs() + 0.5
    cases = {
        "exp": lambda: torch.exp(v),
        "log": lambda: torch.log(pos),
        "log1p": lambda: torch.log1p(pos),
        "sigmoid": lambda: torch.sigmoid(v),
        "softplus (ATen)": lambda: F.softplus(v),
        "logsigmoid (ATen)": lambda: F.logsigmoid(v),
        "relu(l) + log1p(exp(-|l|))": lambda: v.clamp_min(0).add_(v.abs().neg_().exp_().log1p_()),
        "relu(l) - log(sigmoid(|l|))": lambda: v.clamp_min(0).sub_(torch.sigmoid(v.abs()).log_()),
    }
    print("ns per element, 10^6 float32 values, 1 thread:")
    for name, fn in cases.items():
        print(f"  {name:>28}: {best_us(fn, 20) * 1e3 / v.numel():.2f}")
    if compiled:
        torch.set_num_threads(2)
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
            f"softplus-and-sum of one NLL chunk [10, 100, 784], 2 threads: eager {eager_us:.0f} us, "
            f"compiled {fused_us:.0f} us (after {compile_s:.1f} s compiling)"
        )


def gather() -> None:
    torch.set_num_threads(2)
    x = torch.randint(0, 256, (60_000, 784), dtype=torch.uint8)
    index = torch.randperm(60_000)[:128]
    print("128 uint8 rows of 784, 2 threads:")
    print(f"  advanced indexing x[index]: {best_us(lambda: x[index], 2000):.1f} us")
    print(f"  torch.index_select:         {best_us(lambda: torch.index_select(x, 0, index), 2000):.1f} us")


def adam() -> None:
    from torch.optim.adam import adam as functional_adam

    from bench.common import mlp_vae_config
    from vaekit.models import create
    from vaekit.training.optim import DirectAdamStep

    torch.set_num_threads(2)
    params = list(create(mlp_vae_config()).parameters())
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

    direct_optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    direct = DirectAdamStep(direct_optimizer)
    direct()  # the first call is Adam.step itself
    kernel = torch._fused_adam_
    kernel_args = [params, grads, *moments, [], steps]
    kernel_kwargs = dict(amsgrad=False, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, maximize=False)
    print(f"fused Adam, {sum(p.numel() for p in params)} parameters, 2 threads, best of 5 x 500 calls:")
    print(f"  optimizer.step():                          {best_us(optimizer.step, 500):.0f} us")
    print(f"  torch.optim.adam.adam(...):                 {best_us(functional, 500):.0f} us")
    print(f"  vaekit's DirectAdamStep:                    {best_us(direct, 500):.0f} us")
    print(f"  the kernel alone (torch._fused_adam_(...)): {best_us(lambda: kernel(*kernel_args, **kernel_kwargs), 500):.0f} us")
    counts = torch.stack([s.detach() for s in steps])
    print(f"  counting a step: torch._foreach_add_ over the {len(steps)} 0-d step tensors "
          f"{best_us(lambda: torch._foreach_add_(steps, 1), 500):.1f} us, one add_ on a tensor of them "
          f"{best_us(lambda: counts.add_(1), 500):.1f} us")


def mm() -> None:
    torch.set_num_threads(2)
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
    print("the classic VAE's large matmuls at batch 128, 2 threads:")
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
    print(f"the latent part's small matmuls, 2 threads: {sum(times.values()):.0f} us in all")
    for name, us in times.items():
        print(f"  {name}: {us:.0f} us")


def bce() -> None:
    import statistics

    from vaekit.fast.fused_step import _bernoulli_recon_and_residual

    torch.set_num_threads(2)
    torch.manual_seed(0)
    # Logits like a trained model's (mostly confident "black"), grey levels with many zeros.
    logits = torch.randn(128, 784) * 4 - 6
    x = torch.rand(128, 784).mul_(torch.rand(128, 784) < 0.2)

    def aten() -> tuple[torch.Tensor, torch.Tensor]:
        recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return recon, torch.sub(x, torch.sigmoid(logits))

    cases = {"BCE-with-logits + sigmoid (ATen)": aten, "exp form (the fused step)": lambda: _bernoulli_recon_and_residual(logits, x)}
    (r0, g0), (r1, g1) = aten(), cases["exp form (the fused step)"]()
    names, times = list(cases), {name: [] for name in cases}
    for round_ in range(7):
        for name in names[round_ % 2 :] + names[: round_ % 2]:
            times[name].append(best_us(cases[name], 300, 3))
    print("Bernoulli log-likelihood and gradient of a [128, 784] batch, 2 threads, median of 7 rounds:")
    for name in names:
        print(f"  {name:>32}: {statistics.median(times[name]):.0f} us")
    print(f"  largest difference: {(r1 - r0).abs().max():.2e} nats per example, {(g1 - g0).abs().max():.2e} in the gradient")


def chunk() -> None:
    import statistics

    torch.set_num_threads(2)
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
    for round_ in range(7):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(best_us(cases[name], 30, 3))
    print("-log p(x|z) of one chunk [10, 100, 784] from [1000, 400] @ [400, 784], 2 threads, median of 7 rounds:")
    for name in names:
        print(f"  {name:>34}: {statistics.median(times[name]):.0f} us")


def step() -> None:
    from bench.common import mlp_vae_config
    from vaekit import objectives
    from vaekit.models import create
    from vaekit.fast.fused_step import FusedVAEStep
    from vaekit.training.optim import DirectAdamStep, make_adam

    torch.set_num_threads(2)
    print("the fused training step and the Adam step on one repeated batch, 2 threads, best of 5 x 200 calls:")
    for inputs, hidden, latent, batch in ((16, 16, 2, 8), (784, 400, 20, 128)):
        config = mlp_vae_config(inputs, hidden, latent)
        torch.manual_seed(0)
        model = create(config)
        fused = FusedVAEStep(model, objectives.create_objective(config, model))
        adam = DirectAdamStep(make_adam(model.parameters(), 1e-3, torch.device("cpu")))
        x = torch.rand(batch, inputs)
        fused(x)
        adam()  # the first call is Adam.step itself
        step_us = best_us(functools.partial(fused, x), 200)
        print(f"  {inputs}-{hidden}-{latent}, batch {batch}: fused step {step_us:.0f} us, Adam step {best_us(adam, 200):.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", default=["elementwise", "gather", "adam", "mm", "bce", "chunk", "step"])
    parser.add_argument("--compiled", action="store_true", help="elementwise: also a compiled softplus-and-sum")
    args = parser.parse_args()
    for name in args.which:
        {"elementwise": lambda: elementwise(args.compiled), "gather": gather, "adam": adam, "mm": mm, "bce": bce, "chunk": chunk, "step": step}[name]()


if __name__ == "__main__":
    main()
