"""Shared pieces of the benchmarks: the argument parser, MNIST loading, the classic MLP VAE, its
training steps, peak memory, and the test -ELBO every contestant is scored by.

Only the standard library is imported at module level, so every script's ``--help`` stays cheap;
torch, numpy and vaekit are imported inside the functions that use them. Every use of a vaekit
internal by the benchmarks goes through a function here, so a renamed internal is one edit.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"
#: values of the ``fast`` setting (train config ``train.fast``, ``vaekit.evaluate(fast=...)``)
FAST_MODES = ("auto", "off")


def script_parser(file: str, doc: str | None) -> argparse.ArgumentParser:
    """Return the argument parser of the script ``file`` (its ``__file__``): usage names it as
    ``python -m bench.NAME``, the description is its docstring as written."""
    return argparse.ArgumentParser(
        prog=f"python -m bench.{Path(file).stem}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def csv_choices(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Return an argparse ``type`` reading a comma-separated list of names out of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [name for name in text.split(",") if name]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(choices)}")
        return names

    return parse


def mnist_dir() -> Path:
    """Folder of the MNIST IDX files: $VAEKIT_BENCH_MNIST or ../shared/data/mnist."""
    return Path(os.environ.get("VAEKIT_BENCH_MNIST", DEFAULT_MNIST))


def load_mnist_unit(limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST (train, test) as float32 [N, 784] grey levels in [0, 1], read with vaekit's reader
    (which keeps uint8 levels) and converted with its ``to_model_units``."""
    from vaekit.data import load_data, to_model_units

    bundle = load_data("mnist", data_dir=str(mnist_dir()))
    train, test = bundle.train, bundle.test
    if limit:
        train, test = train[:limit], test[: max(limit // 6, 100)]
    return to_model_units(train, bundle.levels), to_model_units(test, bundle.levels)


def mlp_vae_options(
    hidden: list[int], latent: int, activation: str = "relu", likelihood: str | None = "bernoulli"
) -> dict[str, Any]:
    """Keyword options of ``vaekit.train`` (and ``vaekit.api.build_config``) for an MLP VAE with
    encoder widths ``hidden`` (the decoder mirrors them), ``latent`` dimensions, ``activation``
    and ``likelihood`` (None: the default for the data)."""
    options: dict[str, Any] = {
        "net": {"name": "mlp", "encoder": list(hidden), "activation": activation},
        "latent_dim": latent,
    }
    if likelihood is not None:
        options["likelihood"] = likelihood
    return options


def mlp_vae_config(
    inputs: int = 784,
    hidden: tuple[int, ...] = (400,),
    latent: int = 20,
    activation: str = "relu",
    value_range: str = "unit",
) -> Any:
    """Return a vaekit ``RunConfig`` for an MLP VAE with ``inputs`` values, encoder widths
    ``hidden`` (the decoder mirrors them), ``latent`` dimensions and a Bernoulli likelihood, bound
    to data in ``value_range`` ("unit": grey levels in [0, 1]; "binary"); the defaults are issue
    5's classic MNIST model, 784-400-20 ReLU."""
    from vaekit.api import build_config

    config = build_config(**mlp_vae_options(list(hidden), latent, activation))
    config.input_shape = [1, 28, 28] if inputs == 784 else [1, inputs, 1]
    config.value_range = value_range
    return config


def run_test_examples(run_dir: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """Return a trained run's model and its test examples ``[N, D]`` as ``vaekit evaluate`` sees
    them (binarised or dequantised with the fixed seed)."""
    import vaekit
    from vaekit.api import resolve_eval_data

    vae = vaekit.load(run_dir)
    x, _ = resolve_eval_data(vae, None, "test")
    return vae.model, x


def denormals_flushed(fast: str) -> Any:
    """Return the context the training loop runs in under ``train.fast = fast`` (float32
    subnormals flushed to zero on a CPU under "auto"); enter it before torch's first op."""
    from vaekit.fast import denormals_flushed as context

    return context(fast)


def build_model(config: Any) -> torch.nn.Module:
    """Return the model a bound ``RunConfig`` describes, as the training loop builds it."""
    from vaekit.training.build import build_model as build

    return build(config)


def training_step(
    config: Any, model: torch.nn.Module, fast: str, adam: dict | None = None
) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """Return ``(step, name)``: ``step(x) -> loss`` is one training step of ``model`` on the batch
    ``x`` (forward, backward, Adam at lr 1e-3) as the training loop takes it with ``train.fast =
    fast`` and the config's ``train.precision`` (``vaekit.training.loop.training_step``, whose
    ``ConfigError`` it raises), and ``name`` says which step it is ("fused" or "autograd").

    ``adam`` replaces the keyword arguments of ``torch.optim.Adam`` (by default its fused kernel
    where ``fast`` takes it, as the loop builds it), e.g. ``{"foreach": True}``."""
    import torch

    from vaekit import fast as fast_paths
    from vaekit.training.build import build_objective
    from vaekit.training.loop import training_step as loop_training_step

    cpu = torch.device("cpu")
    memory_kept = getattr(fast_paths, "memory_kept", None)  # a tree before it lacks it
    if memory_kept is not None:
        memory_kept(fast, cpu)  # as the training loop does first
    config.train.fast = fast
    objective = build_objective(config, model)
    options = {"fused": fast_paths.fused_adam(fast, cpu) or None} if adam is None else adam
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **options)
    # The loop's own choice of step (and its refusals, e.g. of a bf16-grad run it cannot take).
    step = loop_training_step(config, model, objective, optimizer, cpu)
    return (lambda x: step(x, None, 0).loss), step.name


def direct_adam_step(optimizer: torch.optim.Adam) -> Callable[[], None]:
    """Return vaekit's Adam shortcut for ``optimizer`` (its fused kernel called directly), as the
    training loop steps Adam on the fast path."""
    from vaekit.fast import DirectAdamStep

    return DirectAdamStep(optimizer)


def bernoulli_recon_and_residual() -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Return the fused step's Bernoulli term: ``f(logits, x) -> (log-likelihood per example,
    x - sigmoid(logits))``."""
    from vaekit.fast.dense_passes import bernoulli_recon_and_residual

    return bernoulli_recon_and_residual


def log_likelihood_bounds(model: torch.nn.Module, x: torch.Tensor, k: int, budget: int, fast: str) -> torch.Tensor:
    """Return the K-sample bound of each row of ``x`` as ``vaekit evaluate`` computes it, with a
    chunk budget of ``budget`` decoder outputs and the NLL path ``fast`` ("auto" or "off")."""
    from vaekit.evaluation.iwae import log_likelihood_bounds as bounds

    return bounds(model, x, k, max_chunk_elements=budget, fast=fast)


def nll_path(model: torch.nn.Module, x: torch.Tensor, fast: str) -> str:
    """Return which NLL chunk runs for ``model`` on ``x`` under ``fast``: "fused" or "generic"."""
    from vaekit.evaluation.iwae import nll_path as path

    return path(model, x, fast)


def nll_chunk_budget() -> int:
    """Return vaekit's default NLL chunk budget (decoder outputs per chunk)."""
    from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS

    return DEFAULT_MAX_CHUNK_ELEMENTS


def nll_chunk_rows(k: int, n: int, dim: int, budget: int) -> int:
    """Return the rows of one NLL chunk's decoder matmul (samples x examples) for K = ``k``
    samples of ``n`` examples of ``dim`` values under the chunk budget ``budget``, as vaekit
    chunks them."""
    from vaekit.evaluation.iwae import chunk_sizes

    batch = min(n, max(100, budget // (k * dim)))
    return chunk_sizes(k, batch * dim, budget, equal=True)[0] * batch


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def count_subnormal(tensors: list[torch.Tensor]) -> int:
    """Number of float32 values in ``tensors`` that are nonzero and below the smallest normal."""
    import torch

    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((t.abs() > 0) & (t.abs() < tiny)).sum()) for t in tensors)


def linear_layers(module: torch.nn.Module) -> list[torch.nn.Linear]:
    """Return the dense layers of ``module`` in definition order."""
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


def matmul_flops(layers: list[torch.nn.Linear]) -> int:
    """FLOPs of one input row through ``layers``: 2 * in * out per layer (multiply and add)."""
    return sum(2 * layer.in_features * layer.out_features for layer in layers)


def synchronize(device: Any = "cpu") -> None:
    """Wait for the work queued on ``device`` (a CUDA GPU runs ahead of the host; a CPU does not),
    so that a timer read next covers it."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def gflops(
    m: int, k: int, n: int, seconds_budget: float = 1.0, device: Any = "cpu", dtype: Any = None
) -> float:
    """Return the sustained GFLOP/s of an m x k by k x n matmul (2mkn flops each) on ``device``
    in ``dtype`` (default float32). On a GPU the products are queued in rounds and the clock
    stops only once the device has finished them."""
    import torch

    dtype = dtype or torch.float32
    a, b = torch.randn(m, k, device=device).to(dtype), torch.randn(k, n, device=device).to(dtype)
    out = torch.empty(m, n, device=device, dtype=dtype)
    torch.mm(a, b, out=out)
    synchronize(device)
    # Rounds of products between reads of the clock: one on a CPU; on a GPU enough that the
    # queueing and the synchronisation are a small part of each round.
    per_round = 1 if torch.device(device).type == "cpu" else 10
    reps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds_budget:
        for _ in range(per_round):
            torch.mm(a, b, out=out)
        synchronize(device)
        reps += per_round
    return 2 * m * k * n * reps / (time.perf_counter() - started) / 1e9


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


def rotated(names: list[str], round_: int) -> list[str]:
    """Return ``names`` rotated by ``round_``, so that each takes every place in turn."""
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def bernoulli_neg_elbo(encode: Callable, decode_logits: Callable, x: torch.Tensor, seed: int = 0, batch: int = 1000) -> float:
    """Single-sample -ELBO of a Bernoulli VAE on x, nats per example, with the same noise for every contestant.

    ``encode(x) -> (mu, logvar)``; ``decode_logits(z) -> logits [B, 784]``.
    """
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = x[i : i + batch]
            mu, logvar = encode(xb)
            eps = torch.randn(mu.shape, generator=g)
            z = mu + torch.exp(0.5 * logvar) * eps
            rec = F.binary_cross_entropy_with_logits(decode_logits(z), xb, reduction="sum")
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
            total += (rec + kl).item()
    return total / len(x)


def logit(p: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Inverse sigmoid, clamped so probabilities of exactly 0 or 1 stay finite."""
    import torch

    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def fmt(x: float | None) -> str:
    """Format a number with 3 significant digits (None and nan as '-')."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def processor_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else the machine type."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(threads: int, device: Any = "cpu") -> str:
    """One line naming the date, the processor, torch and the thread count of a measurement, and
    the GPU when ``device`` is a CUDA device."""
    import torch

    line = (f"{time.strftime('%Y-%m-%d %H:%M')}, {processor_name()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__}, {threads} threads")
    if torch.device(device).type == "cuda":
        line += f", GPU {torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return line
