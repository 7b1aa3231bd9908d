"""The fused NLL chunk gives the generic chunk's log weights, and is used only where it applies."""

import pytest
import torch

from vaekit import fast
from vaekit.evaluation.iwae import chunk_log_weights, log_likelihood_bound, log_likelihood_bounds, nll_path
from vaekit.fast.fused_chunk import FusedBernoulliChunk, fused_chunk_unsupported, is_binary

from .small_models import small_model


def _model(activation="relu", decoder=(7, 9), dtype=torch.float64, name="vae", **options):
    model, _ = small_model(name, activation=activation, decoder=decoder, value_range="binary", dtype=dtype, **options)
    return model.eval()


def _posterior(model, x, size, seed=1):
    mu, logvar = model.encode(x)
    eps = torch.randn((size, *mu.shape), generator=torch.Generator().manual_seed(seed), dtype=mu.dtype)
    return mu, logvar, torch.exp(0.5 * logvar), eps


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "gelu", "silu", "leaky_relu"])
@pytest.mark.parametrize("decoder", [(7, 9), (), (11,)])
def test_log_weights_match_the_generic_chunk(activation, decoder):
    model = _model(activation, decoder)
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    mu, logvar, std, eps = _posterior(model, x, size=5)
    with torch.inference_mode():
        expected = chunk_log_weights(model, x, mu, logvar, std, eps)
        got = FusedBernoulliChunk(model, chunk_log_weights)(x, mu, logvar, std, eps)
    assert got.shape == (5, 6)
    # float64: log(1 + e) drops only e below 1.1e-16 per pixel.
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_float32_bound_matches_the_generic_path_within_float_rounding():
    model = _model(dtype=torch.float32, decoder=(64,))
    with torch.no_grad():
        model.decoder.layers[-1].weight.mul_(40)  # confident logits, |l| up to ~35: terms below rounding occur
    x = torch.bernoulli(torch.rand(40, 20, generator=torch.Generator().manual_seed(3)))
    fused = log_likelihood_bounds(model, x, 200, seed=5)
    generic = log_likelihood_bounds(model, x, 200, seed=5, fast="off")
    assert not torch.equal(fused, generic)  # the paths differ ...
    assert (fused - generic).abs().max() < 1e-4  # ... by float32 rounding (nats per example)


def test_overflowing_chunks_fall_back_to_the_exact_path():
    model = _model(dtype=torch.float32, decoder=())
    x = torch.zeros(3, 20)
    with torch.no_grad():
        model.decoder.layers[-1].bias.fill_(200.0)  # p(x = 0) ~ e^-200: exp(200) overflows float32
    mu, logvar, std, eps = _posterior(model, x, size=4)
    with torch.inference_mode():
        expected = chunk_log_weights(model, x, mu, logvar, std, eps)
        got = FusedBernoulliChunk(model, chunk_log_weights)(x, mu, logvar, std, eps)
    assert torch.isfinite(expected).all() and (expected < -3000).all()
    assert torch.equal(got, expected)


def test_buffers_are_reused_without_leaking_between_chunks():
    model = _model()
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    fused = FusedBernoulliChunk(model, chunk_log_weights)
    first, second = _posterior(model, x, 5, seed=1), _posterior(model, x, 5, seed=2)
    with torch.inference_mode():
        a, b = fused(x, *first), fused(x, *second)
        pointers = [buffer.data_ptr() for buffer in fused._buffers.values()]
        b_again, a_again = fused(x, *second), fused(x, *first)
    assert [buffer.data_ptr() for buffer in fused._buffers.values()] == pointers
    assert torch.equal(a, a_again) and torch.equal(b, b_again)


def test_grey_data_takes_the_generic_path():
    model = _model()
    x = torch.rand(6, 20, dtype=torch.float64)
    assert not is_binary(x) and is_binary(torch.bernoulli(x))
    noise = torch.randn(30, 6, 3, dtype=torch.float64)
    default = log_likelihood_bound(model, x, 30, noise=noise)
    assert torch.equal(default, log_likelihood_bound(model, x, 30, noise=noise, fast="off"))


def test_binary_data_takes_the_fused_path_and_fast_off_the_generic_one(monkeypatch):
    model = _model()
    x = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    calls = []
    original = FusedBernoulliChunk.__call__
    monkeypatch.setattr(FusedBernoulliChunk, "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    noise = torch.randn(30, 6, 3, dtype=torch.float64)
    fused = log_likelihood_bound(model, x, 30, noise=noise, max_chunk_elements=10 * 6 * 20)
    assert len(calls) == 3  # every chunk of 10 samples
    generic = log_likelihood_bound(model, x, 30, noise=noise, fast="off")
    assert len(calls) == 3
    assert torch.allclose(fused, generic, rtol=1e-12)


def test_one_fused_chunk_serves_every_batch_of_a_split(monkeypatch):
    model = _model()
    made = []
    original = FusedBernoulliChunk.__init__
    monkeypatch.setattr(FusedBernoulliChunk, "__init__", lambda self, *a: made.append(1) or original(self, *a))
    x = torch.bernoulli(torch.rand(9, 20, dtype=torch.float64))
    log_likelihood_bounds(model, x, 10, batch_size=3)
    assert made == [1]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"likelihood": "gaussian"}, "likelihood"),
        ({"normalization": "layer"}, "LayerNorm"),
        ({"name": "vamp"}, "prior"),
        ({"name": "cvae"}, "not a built-in"),
        ({"name": "ae", "likelihood": "bernoulli"}, "not a built-in"),
        ({"net": "conv", "channels": [4]}, "decoder"),
        ({"dtype": torch.bfloat16}, "bfloat16"),
        ({"device": "meta"}, "runs on CPU"),
    ],
)
def test_models_it_does_not_cover_are_named_and_left_to_the_generic_path(options, reason):
    options = dict(options)
    dtype, device = options.pop("dtype", torch.float64), options.pop("device", "cpu")
    model = _model(dtype=dtype, **options).to(device)
    why = fused_chunk_unsupported(model)
    assert why is not None and reason in why
    assert fast.nll_chunk_for(model, chunk_log_weights) is None
    with pytest.raises(ValueError, match="cannot evaluate"):
        FusedBernoulliChunk(model, chunk_log_weights)


def test_the_founding_model_and_its_variants_are_covered():
    for name in ("vae", "beta-vae", "iwae"):
        assert fused_chunk_unsupported(_model(name=name)) is None, name


def test_the_chunk_is_offered_only_under_auto():
    model = _model()
    assert isinstance(fast.nll_chunk_for(model, chunk_log_weights, "auto"), FusedBernoulliChunk)
    assert fast.nll_chunk_for(model, chunk_log_weights, "off") is None
    with pytest.raises(ValueError, match="auto, off"):
        fast.nll_chunk_for(model, chunk_log_weights, "on")


def test_nll_path_names_the_chunk_that_runs():
    model, gaussian = _model(), _model(likelihood="gaussian")
    binary = torch.bernoulli(torch.rand(6, 20, dtype=torch.float64))
    assert nll_path(model, binary) == "fused"
    assert nll_path(model, binary, fast="off") == "generic"
    assert nll_path(model, torch.rand(6, 20, dtype=torch.float64)) == "generic"
    assert nll_path(gaussian, binary) == "generic"
