import json

import pytest
import torch

import vaekit
from vaekit.runtime.errors import ConfigError
from vaekit.training import checkpoint as ckpt
from vaekit.training.batches import ExamplesDataset, memory_batches, streaming_batches

SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 100, "progress": "quiet"}


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_memory_and_streaming_paths_give_identical_batches(dtype):
    x, y = (torch.rand(53, 4) * 255).to(dtype), torch.arange(53)
    order = torch.randperm(53, generator=torch.Generator().manual_seed(0))
    fast = list(memory_batches(x, y, order, 10))
    slow = list(streaming_batches(ExamplesDataset(x, y), order, 10, torch.device("cpu"), labelled=True))
    assert len(fast) == len(slow) == 6
    for (xa, ya), (xb, yb) in zip(fast, slow, strict=True):
        assert xa.dtype == xb.dtype == dtype  # grey levels travel as uint8; the loop converts them
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_memory_and_streaming_training_compute_the_same_losses_and_weights(tmp_path):
    # Dynamic binarisation also draws from the epoch generator, so the batches must match exactly.
    runs = {}
    for mode in ("memory", "streaming"):
        vaekit.train(epochs=2, data_loading=mode, binarize="dynamic", out=tmp_path / mode, **SMALL)
        runs[mode] = tmp_path / mode
    losses = {m: [json.loads(x)["train_loss"] for x in (p / "metrics.jsonl").read_text().splitlines()] for m, p in runs.items()}
    assert losses["memory"] == losses["streaming"]
    a, _ = ckpt.load_tensors(runs["memory"] / "model.safetensors")
    b, _ = ckpt.load_tensors(runs["streaming"] / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_autocast_trains_and_keeps_float32_weights(tmp_path):
    vae = vaekit.train(epochs=1, precision="bf16", out=tmp_path / "r", **SMALL)
    assert all(p.dtype == torch.float32 for p in vae.model.parameters())
    assert torch.isfinite(torch.tensor(vaekit.evaluate(vae, k=0)["loss"]))


def test_fp16_without_cuda_is_refused_with_the_alternatives(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("fp16 is allowed on CUDA")
    with pytest.raises(ConfigError, match="bf16"):
        vaekit.train(epochs=1, precision="fp16", device="cpu", out=tmp_path / "r", **SMALL)


@pytest.mark.slow
def test_compiled_training_matches_the_eager_loss_closely(tmp_path):
    eager = vaekit.train(epochs=1, out=tmp_path / "eager", **SMALL)
    compiled = vaekit.train(epochs=1, compile=True, out=tmp_path / "compiled", **SMALL)
    a = vaekit.evaluate(eager, k=0)["loss"]
    b = vaekit.evaluate(compiled, k=0)["loss"]
    assert abs(a - b) < 1e-2 * abs(a)
