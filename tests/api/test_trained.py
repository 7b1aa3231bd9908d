"""The loaded model (vaekit.api.trained): encode, decode, sample and score, and the inputs they refuse."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import vaekit
from vaekit.runtime.errors import ConfigError, DataError


def test_loaded_model_gives_identical_outputs_in_a_fresh_process(digits_run, tmp_path):
    vae = vaekit.load(digits_run)
    x = torch.rand(5, 64)
    z = torch.randn(5, 2)
    here = {"mu": vae.encode(x).tolist(), "x_hat": vae.decode(z).reshape(5, -1).tolist()}
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "z.npy", z.numpy())
    here["weights"] = {k: v.flatten().tolist() for k, v in vae.model.state_dict().items()}
    code = (
        "import json, sys, numpy as np, vaekit\n"
        f"vae = vaekit.load({str(digits_run)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r}); z = np.load({str(tmp_path / 'z.npy')!r})\n"
        "weights = {k: v.flatten().tolist() for k, v in vae.model.state_dict().items()}\n"
        "print(json.dumps({'mu': vae.encode(x).tolist(), 'x_hat': vae.decode(z).reshape(5, -1).tolist(), "
        "'weights': weights}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = json.loads(out.stdout)
    assert there["weights"] == here["weights"]  # the same numbers, bit for bit
    # The same weights on the same inputs: the outputs agree to float32 rounding. Bit for bit they
    # need not: the matmul kernels' path depends on where the inputs lie in memory.
    for key in ("mu", "x_hat"):
        torch.testing.assert_close(torch.tensor(there[key]), torch.tensor(here[key]), rtol=1e-5, atol=1e-6)


def test_encode_returns_posterior_means_and_sampling_is_explicit(digits_run):
    vae = vaekit.load(digits_run)
    x = torch.rand(4, 1, 8, 8)
    mu, _ = vae.encode_distribution(x)
    assert torch.equal(vae.encode(x), mu)
    assert torch.equal(vae.encode(x), vae.encode(x))
    assert not torch.equal(vae.encode(x, sample=True), mu)


def test_decode_and_sample_return_examples_in_the_data_shape(digits_run):
    vae = vaekit.load(digits_run)
    assert vae.sample(3).shape == (3, 1, 8, 8)
    assert vae.decode(np.zeros((2, 2), dtype=np.float32)).shape == (2, 1, 8, 8)


def test_wrong_input_width_is_refused(digits_run):
    vae = vaekit.load(digits_run)
    with pytest.raises(DataError, match="expects 64"):
        vae.encode(torch.rand(2, 10))
    with pytest.raises(DataError, match="NaN"):
        vae.encode(torch.full((2, 64), float("nan")))


def test_uint8_grey_levels_are_refused_rather_than_read_as_0_to_255(digits_run):
    from vaekit.data import load_data

    vae = vaekit.load(digits_run)
    bundle = load_data("digits")
    with pytest.raises(DataError, match="uint8.*as_float"):
        vae.encode(bundle.test[:2])
    with pytest.raises(DataError, match="uint8"):
        vae.reconstruct(bundle.test[:2].numpy())
    assert vae.encode(bundle.as_float("test")[:2]).shape == (2, vae.latent_dim)


@pytest.mark.parametrize("labels, message", [
    (["a", "b"], "label 'a' is not a class of this run: give a class number"),
    ([0.5, 1.5], "labels must be whole class numbers; got fractions"),
    ([0, 10], r"labels must be in 0..9, got 0..10"),
    ([-1, 2], r"labels must be in 0..9, got -1..2"),
    ([1, 2, 3], "got 3 labels for 2 examples"),
    (None, r"is conditional: pass labels= \(one class number"),
])  # fmt: skip
def test_a_conditional_models_labels_are_checked(cvae_run, labels, message):
    vae = vaekit.load(cvae_run)
    with pytest.raises((ConfigError, DataError), match=message):
        vae.decode(np.zeros((2, 2)), labels=labels)
    assert vae.decode(np.zeros((2, 2)), labels=[1.0, 2.0]).shape == vae.decode(np.zeros((2, 2)), labels=[1, 2]).shape
    assert torch.equal(vae.decode(np.zeros((2, 2)), labels=np.array([1.0, 2.0])), vae.decode(np.zeros((2, 2)), labels=[1, 2]))


def test_grey_images_may_leave_their_channel_out_and_lists_score_as_they_encode(digits_run):
    import warnings

    vae = vaekit.load(digits_run)
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    codes = vae.encode(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DataFrame's read-only values raised torch's warning
        torch.testing.assert_close(vae.encode(pd_frame(x)), codes)
    torch.testing.assert_close(vae.encode(x.reshape(5, 8, 8)), codes)
    torch.testing.assert_close(vae.encode(x[0].reshape(8, 8)), codes[:1])
    torch.testing.assert_close(vae.encode(x[0].reshape(1, 8, 8)), codes[:1])
    np.testing.assert_array_equal(vae.score(x.tolist(), k=3), vae.score(x, k=3))


def pd_frame(x: np.ndarray):
    import pandas as pd

    return pd.DataFrame(x)


def test_a_conditional_models_examples_are_scored_with_their_labels(cvae_run):
    vae = vaekit.load(cvae_run)
    x, y = vaekit.api.resolve_eval_data(vae, None, "test")
    with pytest.raises(ConfigError, match=r"scoring needs each example's class \(labels= in Python"):
        vae.score(x[:4].numpy(), kind="recon")
    scores = vae.score(x[:4].numpy(), kind="recon", labels=y[:4])
    assert scores.shape == (4,) and np.isfinite(scores).all()
    other = vae.score(x[:4].numpy(), kind="recon", labels=(y[:4] + 1) % 10)
    assert not np.allclose(scores, other)  # the class conditions the model
    assert vae.explain(x[:4].numpy(), kind="recon", labels=y[:4].numpy()).contributions.shape == (4, 64)
    with pytest.raises(DataError, match="labels= must be 4 whole class numbers"):
        vae.score(x[:4].numpy(), labels=[0.5] * 4)
