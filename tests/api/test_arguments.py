"""The Python API's calls as a whole: wrong arguments are refused with the fix, and `import vaekit` stays light."""

import subprocess
import sys

import numpy as np
import pytest

import vaekit
from vaekit.runtime.errors import CheckpointError, ConfigError, DataError


@pytest.mark.parametrize("call, message", [
    (lambda vae: vae.sample(2.5), "an integer >= 1, got 2.5"),
    (lambda vae: vae.sample("3"), "an integer >= 1, got '3'"),
    (lambda vae: vae.sample(3, temperature="hot"), r"temperature must be a finite number >= 0 .*got 'hot'"),
    (lambda vae: vae.decode(np.zeros((0, 2))), "no latent codes: give at least one row"),
    (lambda vae: vae.decode(np.array([["a", "b"]])), "must be numbers"),
    (lambda vae: vae.encode(np.full((2, 64), 255.0)), "divide 8-bit pixels by 255"),
    (lambda vae: vae.encode("x.npy"), "are arrays, not a path"),
    (lambda vae: vaekit.load(123), "load takes a run folder's path, got int 123"),
    (lambda vae: vaekit.load(vae.run_dir / "model.safetensors"), r"is a file, not a run folder: give the folder"),
    (lambda vae: vaekit.load(vae.run_dir, device="gpu"), "unknown device 'gpu'; use auto, cpu, cuda"),
    (lambda vae: vaekit.evaluate(vae, k=2.5), r"k must be a whole number >= 0, got 2.5"),
    (lambda vae: vaekit.evaluate(vae, k=2, batch_size=0), r"batch_size must be a whole number >= 1, got 0"),
    (lambda vae: vaekit.evaluate(vae, k=2, max_chunk_elements=0), r"max_chunk_elements must be a whole number >= 1"),
    (lambda vae: vaekit.evaluate(vae, k=2, seed="x"), r"seed must be a whole number, got 'x'"),
    (lambda vae: vaekit.evaluate(vae, k=2, fast="on"), r"fast must be one of auto, off, got 'on'"),
    (lambda vae: vaekit.evaluate(vae, data=np.zeros((3, 64))), r"got ndarray: save it first .*vae.score\(x\)"),
    (lambda vae: vaekit.train(data=np.zeros((3, 4)), out=vae.run_dir), r"got an array of shape \(3, 4\): save it first"),
    (lambda vae: vaekit.train(data="digits", out=None), "out must be the path of the run folder"),
    (lambda vae: vae.encode(np.zeros((5, 1, 4, 16))), r"shaped \(1, 4, 16\) each; this model expects \(1, 8, 8\)"),
])  # fmt: skip
def test_wrong_arguments_get_a_message_naming_the_fix(digits_run, call, message):
    with pytest.raises((ConfigError, DataError, CheckpointError), match=message):
        call(vaekit.load(digits_run))


def test_import_vaekit_does_not_import_torch():
    code = "import sys, vaekit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
