"""Training, resuming and evaluating on a CUDA GPU, and the claim that per-batch work stays there.

Every test here is marked ``cuda``: it is collected in the default run and skips there with the
reason when torch sees no CUDA GPU; ``pytest -m cuda`` (what ``bench/gpu_check.sh`` runs on a GPU
machine) selects these and the other CUDA tests of the suite.

"No CPU round trip per step" is checked with torch's sync debug mode, which warns at every
operation that makes the host wait for the GPU (``.item()``, a copy to the CPU, a pageable copy
to the GPU, ``nonzero``): a run of 3 epochs may make only a few more of those than a run of 1.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

import vaekit

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason=f"needs a CUDA GPU: torch {torch.__version__} reports torch.cuda.is_available() False",
    ),
]

CUDA = torch.device("cuda")
#: the bundled digits (1437 training images of 8x8), binarised afresh every batch on the device
DIGITS = {"data": "digits", "binarize": "dynamic", "encoder": [32], "latent_dim": 4, "progress": "quiet"}


@contextlib.contextmanager
def host_syncs() -> Iterator[list[str]]:
    """Count the operations inside the block that make the host wait for the GPU: yields a list
    that holds one entry per such operation once the block has ended."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield seen
        finally:
            torch.cuda.set_sync_debug_mode("default")
    seen.extend(str(w.message) for w in caught if "synchroniz" in str(w.message))


def metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def weights(run_dir) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "model.safetensors")


@pytest.mark.parametrize(
    ("precision", "fast", "step"),
    [("fp32", "auto", "fused"), ("fp32", "off", "autograd"), ("bf16", "auto", "autograd"), ("fp16", "auto", "autograd")],
)
def test_a_few_epochs_train_on_cuda_in_each_precision(tmp_path, precision, fast, step):
    vae = vaekit.train(
        **DIGITS, epochs=3, batch_size=64, device="cuda", precision=precision, fast=fast, out=tmp_path / "run"
    )
    records = metrics(tmp_path / "run")
    assert [r["training_step"] for r in records] == [step] * 3
    losses = [r["train_loss"] for r in records]
    assert all(math.isfinite(v) for v in losses), losses
    assert losses[-1] < losses[0], losses  # it learns (fp16: the gradient scaler did not skip every step)
    assert all(p.device.type == "cuda" for p in vae.model.parameters())
    assert all(torch.isfinite(t).all() for t in weights(tmp_path / "run").values())


@pytest.mark.parametrize("fast", ["auto", "off"])
def test_resuming_on_cuda_reaches_the_uninterrupted_runs_weights_bit_for_bit(tmp_path, fast):
    options = {**DIGITS, "batch_size": 64, "device": "cuda", "fast": fast, "val_fraction": 0.1}
    vaekit.train(**options, epochs=3, out=tmp_path / "straight")
    vaekit.train(**options, epochs=1, out=tmp_path / "stopped")
    vaekit.resume(tmp_path / "stopped", epochs=3, progress="quiet")
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "stopped")
    assert straight.keys() == resumed.keys()
    differing = [name for name in straight if not torch.equal(straight[name], resumed[name])]
    assert not differing, f"weights differ after resuming on CUDA: {differing}"
    strip = ("examples_per_s", "epoch_time_s", "epoch_cpu_s")
    assert [{k: v for k, v in r.items() if k not in strip} for r in metrics(tmp_path / "straight")] == [
        {k: v for k, v in r.items() if k not in strip} for r in metrics(tmp_path / "stopped")
    ]


@pytest.fixture(scope="module")
def cpu_digits_run(tmp_path_factory):
    """A small Bernoulli VAE trained on the CPU (2 epochs of binarised digits)."""
    out = tmp_path_factory.mktemp("cuda") / "digits"
    vaekit.train(**DIGITS, epochs=2, batch_size=64, device="cpu", out=out)
    return out


def test_the_iw_nll_on_cuda_equals_the_cpus_on_the_same_draws(cpu_digits_run):
    from vaekit.api import resolve_eval_data
    from vaekit.evaluation.iwae import log_likelihood_bound, nll_path

    cpu, gpu = vaekit.load(cpu_digits_run), vaekit.load(cpu_digits_run, device="cuda")
    x, _ = resolve_eval_data(cpu, None, "test")
    x = x[:50]
    k = 300
    noise = torch.randn(k, len(x), cpu.model.latent_dim, generator=torch.Generator().manual_seed(0))
    on_gpu = log_likelihood_bound(gpu.model, x.cuda(), k, noise=noise).cpu()
    assert nll_path(gpu.model, x.cuda()) == "generic"  # the fused chunk is the CPU's
    for fast in ("off", "auto"):  # the CPU's generic chunk, and its fused one
        on_cpu = log_likelihood_bound(cpu.model, x, k, noise=noise, fast=fast)
        assert torch.allclose(on_gpu, on_cpu, rtol=0, atol=1e-3), (fast, (on_gpu - on_cpu).abs().max())


def test_vaekit_evaluate_on_cuda_agrees_with_the_cpu(cpu_digits_run):
    cpu = vaekit.evaluate(vaekit.load(cpu_digits_run), k=500, probe=False)
    gpu = vaekit.evaluate(vaekit.load(cpu_digits_run, device="cuda"), k=500, probe=False)
    assert gpu["nll_path"] == "generic"
    # The draws differ (a CUDA generator is not the CPU's), so the bounds agree to Monte Carlo
    # error, far inside the spread over examples; the posterior-mean terms do not depend on draws.
    assert abs(gpu["nll"] - cpu["nll"]) < cpu["nll_stderr"], (gpu["nll"], cpu["nll"], cpu["nll_stderr"])
    assert gpu["recon_mse"] == pytest.approx(cpu["recon_mse"], rel=1e-4)


def test_the_nll_takes_larger_chunks_on_a_gpu_than_on_a_cpu():
    from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS, GPU_MAX_CHUNK_ELEMENTS, default_max_chunk_elements

    free = torch.cuda.mem_get_info(CUDA)[0]
    if free < 2**30:
        pytest.skip(f"the GPU has {free / 2**20:.0f} MiB free; the default stays the CPU's below 1 GiB or so")
    assert DEFAULT_MAX_CHUNK_ELEMENTS < default_max_chunk_elements(CUDA) <= GPU_MAX_CHUNK_ELEMENTS


@pytest.mark.parametrize("conditional", [False, True], ids=["vae", "cvae"])
def test_the_iw_nll_on_cuda_reads_back_once_per_batch_at_most(tmp_path, conditional):
    from vaekit.api import resolve_eval_data
    from vaekit.evaluation.iwae import chunk_sizes, decoder_outputs, log_likelihood_bounds

    options = {**DIGITS, "model": "cvae"} if conditional else DIGITS
    vaekit.train(**options, epochs=1, batch_size=64, device="cpu", out=tmp_path / "run")
    vae = vaekit.load(tmp_path / "run", device="cuda")
    x, y = resolve_eval_data(vae, None, "test")
    x, y = x[:200].cuda(), (y[:200].cuda() if conditional else None)
    k, budget, batch = 400, 2**14, 100
    chunks = len(chunk_sizes(k, batch * decoder_outputs(vae.model, x), budget, equal=True))
    assert chunks >= 10  # enough chunks per batch that one read per chunk would show
    log_likelihood_bounds(vae.model, x[:10], 5, y=y[:10] if conditional else None)  # warm up
    with host_syncs() as syncs:
        bounds = log_likelihood_bounds(vae.model, x, k, y=y, batch_size=batch, max_chunk_elements=budget)
    assert torch.isfinite(bounds).all()
    batches = len(x) // batch
    # The result is read back once; the cvae also checks each batch's labels (2 reads). A read per
    # chunk would be hundreds.
    allowed = 3 + (2 * batches if conditional else 0)
    assert len(syncs) <= allowed, f"{len(syncs)} host syncs for {batches} batches of {chunks} chunks: {syncs[:5]}"


def test_dynamic_binarisation_and_dequantisation_noise_are_drawn_on_the_batch_device():
    from vaekit.training.loop import epoch_generator, model_batch, noise_generator

    shuffle = epoch_generator(3, 2)
    noise = noise_generator(3, 2, CUDA, shuffle)
    assert noise.device.type == "cuda"
    stored = torch.randint(0, 17, (128, 64), dtype=torch.uint8, device=CUDA)  # grey levels, as the loop stores them
    for binarize, dequantize in (("dynamic", "none"), ("none", "uniform")):
        run = SimpleNamespace(
            config=SimpleNamespace(data=SimpleNamespace(binarize=binarize, dequantize=dequantize)),
            splits=SimpleNamespace(levels=17),
        )
        model_batch(stored, run, noise_generator(3, 2, CUDA, shuffle))  # warm up the kernels
        with host_syncs() as syncs:
            x = model_batch(stored, run, noise_generator(3, 2, CUDA, shuffle))
        assert x.device.type == "cuda" and x.dtype == torch.float32
        assert syncs == [], f"{binarize}/{dequantize}: {syncs}"
        # Drawn by the device generator of (seed, epoch): the same draws again from a fresh one.
        assert torch.equal(x, model_batch(stored, run, noise_generator(3, 2, CUDA, shuffle)))
    binary = model_batch(stored, SimpleNamespace(
        config=SimpleNamespace(data=SimpleNamespace(binarize="dynamic", dequantize="none")),
        splits=SimpleNamespace(levels=17),
    ), noise)  # fmt: skip
    assert set(binary.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("precision", "fast", "model"),
    [("fp32", "auto", "vae"), ("fp32", "off", "vae"), ("bf16", "auto", "vae"), ("fp16", "auto", "vae"),
     ("fp32", "auto", "cvae")],  # fmt: skip
)
def test_training_makes_no_host_round_trip_per_step(tmp_path, precision, fast, model):
    # 1437 images in batches of 16: 90 steps per epoch. A read per step would add >= 90 per epoch;
    # the loop's own reads (the epoch's permutation to the device, the divergence check every 50
    # steps and at the epoch's end, the epoch's sums) add about 4.
    options = {
        **DIGITS, "batch_size": 16, "device": "cuda", "precision": precision, "fast": fast, "val_fraction": 0.0,
        "checkpoint_every": 100, "model": model,
    }  # fmt: skip
    vaekit.train(**options, epochs=1, out=tmp_path / "warm-up")
    counts = {}
    for epochs in (1, 3):
        with host_syncs() as syncs:
            vaekit.train(**options, epochs=epochs, out=tmp_path / f"e{epochs}")
        counts[epochs] = len(syncs)
    per_epoch = (counts[3] - counts[1]) / 2
    assert per_epoch <= 90 / 4, f"{per_epoch} host syncs per epoch of 90 steps ({counts})"
