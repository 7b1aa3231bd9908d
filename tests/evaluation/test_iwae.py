"""The importance-weighted NLL against a model whose exact marginal likelihood is known."""

import math

import pytest
import torch

from vaekit.evaluation.iwae import chunk_sizes, log_likelihood_bound, log_likelihood_bounds

from .linear_gaussian import exact_log_likelihood, linear_gaussian_vae, loosen_encoder, sample_data


def mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


def test_bound_is_exact_when_the_encoder_is_the_true_posterior():
    # With q(z|x) = p(z|x) every importance weight equals p(x): the bound is log p(x) for any K.
    model, truth = linear_gaussian_vae()
    x = sample_data(50, truth)
    exact = exact_log_likelihood(x, truth)
    for k in (1, 7):
        bound = log_likelihood_bound(model, x, k, generator=torch.Generator().manual_seed(k))
        assert torch.allclose(bound, exact, atol=1e-4)


def test_bound_stays_below_log_likelihood_and_converges_as_k_grows():
    model, truth = linear_gaussian_vae()
    loosen_encoder(model)
    x = sample_data(400, truth)
    exact = exact_log_likelihood(x, truth)
    gaps = {}
    for k in (1, 10, 100, 1000):
        bound = log_likelihood_bounds(model, x, k, seed=k)
        gap, se = mean_and_stderr(exact - bound)
        assert gap > -3 * se  # a lower bound for every K (up to sampling error)
        gaps[k] = gap
    assert gaps[1] > gaps[10] > gaps[100] > gaps[1000]
    assert gaps[1] > 0.5  # the loosened encoder leaves a real gap at K = 1...
    assert gaps[1000] < 0.05 * gaps[1]  # ...which K = 1000 all but closes


def test_elbo_equals_the_one_sample_bound_in_expectation():
    model, truth = linear_gaussian_vae()
    loosen_encoder(model)
    x = sample_data(4000, truth)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(x)
    elbo = (out.recon_log_prob - out.kl).double()
    k1 = log_likelihood_bounds(model, x, 1, seed=1)
    diff, se = mean_and_stderr(elbo - k1)
    assert abs(diff) < 4 * se
    assert 4 * se < 0.9  # sharp enough to catch a wrong constant (e.g. a lost 0.5 log 2pi per latent dim)


def test_chunked_and_unchunked_agree_on_the_same_noise():
    model, truth = linear_gaussian_vae()
    loosen_encoder(model)
    x = sample_data(4, truth)
    k = 11  # prime: the chunks cannot be equal, so the last one is short
    noise = torch.randn(k, 4, 2, generator=torch.Generator().manual_seed(3))
    one_pass = log_likelihood_bound(model, x, k, noise=noise, max_chunk_elements=10**9)
    per_sample = 4 * 6  # B * D decoder outputs for one sample of the batch
    chunks = []
    chunked = log_likelihood_bound(model, x, k, noise=noise, max_chunk_elements=3 * per_sample, on_chunk=chunks.append)
    assert chunks == [3, 3, 3, 2]
    assert torch.allclose(chunked, one_pass, rtol=0, atol=1e-5)  # float32 rounding of the decoder


def test_exactly_k_samples_are_decoded_whatever_the_budget_and_batch():
    model, truth = linear_gaussian_vae()
    x = sample_data(7, truth)
    rows = []
    decode = model.decode
    model.decode = lambda z: rows.append(z.shape[0]) or decode(z)
    seen = []
    log_likelihood_bounds(model, x, 13, batch_size=3, max_chunk_elements=5 * 3 * 6, on_batch=seen.append)
    assert seen == [3, 3, 1]
    assert sum(rows) == 13 * 7  # K samples for each example, not rounded to a chunk multiple
    assert max(rows) <= 5 * 3  # no chunk over the budget
    rows.clear()
    log_likelihood_bounds(model, x, 2)  # small K: the default batch grows, K stays exact
    assert sum(rows) == 2 * 7


@pytest.mark.parametrize(("k", "per_sample", "budget"), [(1, 10, 5), (5000, 784 * 100, 2**24), (17, 2, 10), (8, 1, 8)])
def test_chunk_sizes_cover_k_exactly_within_the_budget(k, per_sample, budget):
    sizes = chunk_sizes(k, per_sample, budget)
    assert sum(sizes) == k
    assert all(s * per_sample <= budget for s in sizes) or sizes == [1] * k


@pytest.mark.parametrize(("k", "per_sample", "budget", "expected"), [(5000, 100, 1300, [10] * 500), (10, 1, 7, [5, 5]), (11, 1, 4, [4, 4, 3])])
def test_equal_chunks_divide_k_when_a_large_enough_divisor_exists(k, per_sample, budget, expected):
    # 5000 samples at 13 per chunk would leave a chunk of 8: 10 divides 5000 and is over half of 13.
    # 11 is prime: its only divisor within 4 per chunk is 1, too small, so the sizes stay uneven.
    assert chunk_sizes(k, per_sample, budget, equal=True) == expected


def test_seeded_estimates_repeat_and_leave_the_global_rng_alone():
    model, truth = linear_gaussian_vae()
    loosen_encoder(model)
    x = sample_data(5, truth)
    state = torch.get_rng_state()
    first = log_likelihood_bounds(model, x, 20, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, log_likelihood_bounds(model, x, 20, seed=4))
    assert not torch.equal(first, log_likelihood_bounds(model, x, 20, seed=5))


def test_fast_mode_off_gives_the_same_bound_and_an_unknown_mode_is_refused():
    model, truth = linear_gaussian_vae()
    x = sample_data(5, truth)
    auto = log_likelihood_bounds(model, x, 20, seed=4)
    assert torch.equal(auto, log_likelihood_bounds(model, x, 20, seed=4, fast="off"))  # no fast path applies
    with pytest.raises(ValueError, match="auto, off"):
        log_likelihood_bounds(model, x, 20, fast="fused")


def test_a_cvaes_labels_become_condition_vectors_once_per_batch_with_the_same_bound():
    # Checking labels reads them back (a synchronisation per call on a GPU): the bound turns them
    # into condition vectors once per batch, not once per chunk, and gets the same weights.
    from vaekit.evaluation.iwae import chunk_log_weights
    from vaekit.models import create
    from vaekit.models.build import DataFacts

    torch.manual_seed(0)
    spec = {"name": "cvae", "latent_dim": 3, "net": {"name": "mlp", "encoder": [8]}, "likelihood": {"name": None}}
    model = create(spec, DataFacts((1, 4, 5), "binary", num_classes=3)).eval()
    x = torch.bernoulli(torch.full((6, 20), 0.4), generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    k = 12
    noise = torch.randn(k, len(x), 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        mu, logvar = model.encode(x, y)
        # The labels repeated for every draw, as one chunk of all k draws.
        reference = torch.logsumexp(
            chunk_log_weights(model, x, mu, logvar, torch.exp(0.5 * logvar), noise, y.repeat(k)).double(), 0
        ) - math.log(k)
    checked = []
    condition = model.condition
    model.condition = lambda labels: (checked.append(labels.ndim), condition(labels))[1]
    bound = log_likelihood_bound(model, x, k, y=y, noise=noise, max_chunk_elements=2 * len(x) * 20)  # 6 chunks
    assert torch.allclose(bound, reference, rtol=0, atol=1e-5)
    assert checked.count(1) == 1  # the labels, checked once; the rest are [B, C] vectors
    assert len(log_likelihood_bounds(model, x, k, y=y, batch_size=2, max_chunk_elements=2 * 2 * 20)) == len(x)
    assert checked.count(1) == 1 + 3  # one check per batch of 2


@pytest.mark.parametrize(
    "free, expected",
    [(None, 2**21), (2**40, 2**26), (64 * 2**24 + 5, 2**24), (64 * 2**20, 2**21), (0, 2**21)],
    ids=["unknown", "large-gpu", "mid-gpu", "small-gpu", "full-gpu"],
)
def test_the_default_chunk_budget_grows_with_a_gpus_free_memory(monkeypatch, free, expected):
    import vaekit.runtime.memory as memory
    from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS, default_max_chunk_elements

    asked = []
    monkeypatch.setattr(memory, "available_bytes", lambda device: asked.append(device) or free)
    assert default_max_chunk_elements("cuda") == expected
    assert asked == [torch.device("cuda")]
    # A CPU keeps its cache-sized chunks whatever its memory.
    assert default_max_chunk_elements("cpu") == DEFAULT_MAX_CHUNK_ELEMENTS and len(asked) == 1


def test_evaluate_passes_the_devices_default_chunk_budget(monkeypatch, tmp_path):
    import vaekit
    import vaekit.evaluation as evaluation
    import vaekit.evaluation.iwae as iwae

    vae = vaekit.train(data="digits", epochs=1, latent_dim=2, out=tmp_path / "run", progress="quiet")
    seen = {}

    def fake_evaluate_model(model, x, **options):
        seen.update(options)
        return {}

    monkeypatch.setattr(evaluation, "evaluate_model", fake_evaluate_model)
    monkeypatch.setattr(iwae, "default_max_chunk_elements", lambda device: 12345 if torch.device(device).type == "cpu" else 0)
    vaekit.evaluate(vae, k=10, probe=False)
    assert seen["max_chunk_elements"] == 12345
    vaekit.evaluate(vae, k=10, probe=False, max_chunk_elements=777)
    assert seen["max_chunk_elements"] == 777


def test_a_log_prob_not_summed_over_the_features_is_refused_not_broadcast():
    # D = 6 features, a batch of 6: a [K, B, D] log_prob would broadcast silently against [K, B].
    from vaekit.runtime.errors import ConfigError

    model, truth = linear_gaussian_vae()
    likelihood = model.likelihood
    likelihood.log_prob = lambda x, params: type(likelihood).log_prob_terms(likelihood, x, params)
    with pytest.raises(ConfigError, match=r"log_prob returned shape \[3, 6, 6\] where \[3, 6\] was expected"):
        log_likelihood_bound(model, sample_data(6, truth), 3)
