"""Per-example anomaly scores (nll, elbo, recon) against what they estimate, their explanations,
their draws, the kinds a model may give, and the per-feature terms of every likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vaekit
from vaekit.api import resolve_eval_data
from vaekit.distributions import (
    BernoulliLikelihood,
    CategoricalLikelihood,
    ContinuousBernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
    MixedLikelihood,
)
from vaekit.evaluation import log_likelihood_bounds
from vaekit.evaluation.scores import EXPLAIN_DRAWS, check_score_kind, example_seeds, score_examples
from vaekit.runtime.errors import ConfigError


@pytest.fixture(scope="module")
def vae(digits_run):
    return vaekit.load(digits_run)


@pytest.fixture(scope="module")
def x(vae):
    return resolve_eval_data(vae, None, "test")[0]


def scores_of(vae, x, kind, k, seed=0, **options):
    return score_examples(vae.model, [(x, None)], kind, k, seed=seed, **options)


@torch.no_grad()
def recon_and_kl(model, x, draws, seed):
    """Return (-E_q[log p(x|z)] by ``draws`` posterior draws, KL(q || N(0, I)) in closed form), per example."""
    mu, logvar = model.encode(x)
    eps = torch.randn((draws, *mu.shape), generator=torch.Generator().manual_seed(seed))
    z = mu + torch.exp(0.5 * logvar) * eps
    params = model.decode(z.reshape(-1, mu.shape[1])).reshape(draws, len(x), -1)
    recon = -model.likelihood.log_prob(x, params).double().mean(0)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).double()
    return recon, kl


# --- what each score estimates ----------------------------------------------------------------


def test_the_nll_score_is_minus_the_importance_weighted_bound_that_evaluate_reports(vae, x):
    xs = x[:100]
    nll = scores_of(vae, xs, "nll", 2000, seed=1).scores
    bound = log_likelihood_bounds(vae.model, xs, 2000, seed=2)  # other draws: two estimates of one quantity
    assert nll.dtype == torch.float64 and nll.shape == (100,)
    gap = nll + bound
    assert abs(gap.mean().item()) < 0.02
    assert gap.abs().mean().item() < 0.05
    assert nll.std().item() > 0.5  # the examples differ far more than the estimates do
    # TrainedVAE.score is the same number (one generator seeded with `seed`, the same draws).
    np.testing.assert_allclose(vae.score(xs.numpy(), "nll", k=2000, seed=1), nll.numpy(), rtol=0, atol=1e-9)


def test_the_elbo_score_is_above_the_nll_score_and_is_reconstruction_cost_plus_kl(vae, x):
    xs = x[:200]
    elbo = scores_of(vae, xs, "elbo", 500, seed=3).scores
    nll = scores_of(vae, xs, "nll", 500, seed=3).scores
    # The same seed gives the same K draws: mean log w <= log mean w for every example.
    assert (elbo >= nll - 1e-9).all()
    assert (elbo - nll).mean().item() > 0.01  # a looser bound, not the same one
    recon, kl = recon_and_kl(vae.model, xs, 500, seed=4)
    assert abs((elbo - (recon + kl)).mean().item()) < 0.05
    assert kl.mean().item() > 0.5  # the KL is a real part of the comparison


def test_the_recon_score_is_minus_log_p_of_x_at_the_posterior_mean(vae, x):
    xs = x[:50]
    got = scores_of(vae, xs, "recon", None).scores
    with torch.no_grad():
        mu, _ = vae.model.encode(xs)
        expected = -vae.model.likelihood.log_prob(xs, vae.model.decode(mu)).double()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(vae.score(xs.numpy(), "recon"), got.numpy())
    # Not the ELBO's expected reconstruction cost over posterior draws.
    recon, _ = recon_and_kl(vae.model, xs, 200, seed=5)
    assert (recon - got).abs().mean().item() > 0.05


def test_scores_are_higher_for_noise_than_for_digits(vae, x):
    noise = torch.rand((50, x.shape[1]), generator=torch.Generator().manual_seed(0))
    for kind, k in (("nll", 50), ("elbo", 10), ("recon", None)):
        assert scores_of(vae, noise, kind, k).scores.min() > scores_of(vae, x[:50], kind, k).scores.median()


# --- explanations -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, k", [("nll", 64), ("elbo", 64), ("recon", None)])
def test_explanation_terms_plus_latent_are_the_scores(vae, x, kind, k):
    xs = x[:40]
    explained = scores_of(vae, xs, kind, k, seed=7, explain=True)
    assert explained.terms.shape == (40, x.shape[1]) and explained.latent.shape == (40,)
    torch.testing.assert_close(explained.terms.sum(-1) + explained.latent, explained.scores, rtol=0, atol=1e-9)
    # Explaining draws from its own generator: the scores are those of a plain call.
    torch.testing.assert_close(explained.scores, scores_of(vae, xs, kind, k, seed=7).scores, rtol=0, atol=0)
    assert (explained.terms > -1e-6).all()  # a Bernoulli cost is never negative


def test_recon_terms_are_each_pixels_cost_at_the_mean_and_leave_no_latent_part(vae, x):
    xs = x[:30]
    explained = scores_of(vae, xs, "recon", None, explain=True)
    with torch.no_grad():
        params = vae.model.decode(vae.model.encode(xs)[0])
        expected = -vae.model.likelihood.log_prob_terms(xs, params).double()
    torch.testing.assert_close(explained.terms, expected, rtol=0, atol=1e-9)
    assert explained.latent.abs().max().item() < 1e-3


def test_the_elbo_explanations_latent_part_is_the_kl_on_average(vae, x):
    xs = x[:200]
    explained = scores_of(vae, xs, "elbo", 400, seed=8, explain=True)
    _, kl = recon_and_kl(vae.model, xs, 1, seed=0)
    assert EXPLAIN_DRAWS < 400  # the terms take a few draws of their own
    assert abs((explained.latent - kl).mean().item()) < 0.1
    # And the nll's latent part is smaller by the importance weighting's gain.
    nll = scores_of(vae, xs, "nll", 400, seed=8, explain=True)
    torch.testing.assert_close(nll.terms, explained.terms)  # the same explanation draws
    assert (nll.latent <= explained.latent + 1e-9).all()


@pytest.fixture(scope="module")
def iaf_vae(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "iaf"
    vaekit.train(data="digits", binarize="dynamic", latent_dim=4, options={"flow_steps": 2}, epochs=2,
                 batch_size=64, out=out, progress="quiet")  # fmt: skip
    return vaekit.load(out)


def test_a_flow_posteriors_elbo_explanation_leaves_its_kl_as_the_latent_part(iaf_vae):
    xs = resolve_eval_data(iaf_vae, None, "test")[0][:200]
    explained = scores_of(iaf_vae, xs, "elbo", 400, seed=8, explain=True)
    torch.testing.assert_close(explained.terms.sum(-1) + explained.latent, explained.scores, rtol=0, atol=1e-9)
    assert (explained.terms >= 0).all()  # Bernoulli costs, at draws through the flow
    with torch.no_grad():
        weights = iaf_vae.model.log_weights(xs, 400, generator=torch.Generator().manual_seed(2))
    kl = (weights.log_posterior - weights.log_prior).double().mean(0)  # the flow's KL has no closed form
    assert abs((explained.latent - kl).mean().item()) < 0.1


# --- draws --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nll", "elbo"])
def test_scoring_rows_one_at_a_time_gives_the_scores_of_scoring_them_together(vae, x, kind):
    xs = x[:30]
    together = scores_of(vae, xs, kind, 25, seed=11, explain=True)
    one_by_one = score_examples(vae.model, [(row[None], None) for row in xs], kind, 25, seed=11, explain=True)
    torch.testing.assert_close(one_by_one.scores, together.scores, rtol=0, atol=1e-4)
    torch.testing.assert_close(one_by_one.terms, together.terms, rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", ["nll", "elbo"])
def test_a_rows_score_does_not_depend_on_the_rows_scored_with_it_or_their_order(vae, x, kind):
    xs = x[:40]
    together = scores_of(vae, xs, kind, 25, seed=11, explain=True)
    # Its draws come from a generator seeded by the row's values: the same alone, reversed, in
    # batches of 7 or among other rows (to float32 rounding of batches of other sizes).
    reversed_ = scores_of(vae, xs.flip(0), kind, 25, seed=11, explain=True)
    torch.testing.assert_close(reversed_.scores.flip(0), together.scores, rtol=0, atol=0)
    torch.testing.assert_close(reversed_.terms.flip(0), together.terms, rtol=0, atol=0)
    alone = scores_of(vae, xs[5:6], kind, 25, seed=11).scores
    torch.testing.assert_close(alone, together.scores[5:6], rtol=0, atol=1e-5)
    batches = score_examples(vae.model, [(xs[i : i + 7], None) for i in range(0, 40, 7)], kind, 25, seed=11).scores
    torch.testing.assert_close(batches, together.scores, rtol=0, atol=1e-5)
    among_others = scores_of(vae, torch.cat([x[100:160], xs[20:30]]), kind, 25, seed=11).scores
    torch.testing.assert_close(among_others[60:], together.scores[20:30], rtol=0, atol=1e-5)


def test_equal_rows_get_equal_seeds_and_other_rows_or_seeds_other_ones():
    rows = torch.tensor([[0.0, 1.0], [-0.0, 1.0], [0.0, 2.0]])
    seeds = example_seeds(rows, 0)
    assert seeds[0] == seeds[1] != seeds[2]  # -0.0 counts as 0.0
    assert example_seeds(rows, 1)[0] != seeds[0] and example_seeds(rows, 0, stream=2)[0] != seeds[0]
    assert all(0 <= s < 2**32 for s in seeds)  # what torch's CPU generator keeps of a seed


def test_draws_split_into_chunks_of_k_give_the_same_scores(vae, x):
    xs = x[:40]
    outputs = x.shape[1]
    whole = scores_of(vae, xs, "nll", 20, seed=12).scores
    # A budget of 5 draws of the batch at a time: K = 20 goes through the decoder in 4 chunks.
    chunked = scores_of(vae, xs, "nll", 20, seed=12, max_chunk_elements=5 * len(xs) * outputs).scores
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)  # float32 log weights, summed in another order


def test_the_seed_chooses_the_draws(vae, x):
    xs = x[:20]
    a, b = scores_of(vae, xs, "nll", 10, seed=0).scores, scores_of(vae, xs, "nll", 10, seed=0).scores
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (scores_of(vae, xs, "nll", 10, seed=1).scores - a).abs().max().item() > 1e-4


def test_scoring_leaves_the_global_random_state_and_the_training_mode_alone(vae, x):
    vae.model.train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    scores_of(vae, x[:10], "elbo", 5, explain=True)
    assert torch.equal(torch.rand(3), expected)
    assert vae.model.training
    vae.model.eval()


# --- which kinds a model gives --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ae(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ae"
    return vaekit.train(
        data="digits", model="ae", encoder=[16], latent_dim=2, epochs=1, batch_size=64, out=out, progress="quiet"
    )


@pytest.mark.parametrize("kind", ["nll", "elbo"])
def test_a_plain_autoencoder_has_no_nll_or_elbo_score(ae, x, kind):
    with pytest.raises(ConfigError, match="no posterior.*--score recon"):
        ae.score(x[:5].numpy(), kind)
    with pytest.raises(ConfigError, match="no posterior"):
        check_score_kind(ae.model, kind, 10)


def test_a_plain_autoencoder_gives_its_reconstruction_cost(ae, x):
    xs = x[:20]
    got = ae.score(xs.numpy(), "recon")
    with torch.no_grad():
        code, _ = ae.model.encode(xs)
        expected = -ae.model.likelihood.log_prob(xs, ae.model.decode(code)).double().numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    explained = ae.explain(xs.numpy(), "recon")
    np.testing.assert_allclose(explained.contributions.sum(1) + explained.latent, got, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "kind, k, message",
    [
        ("recon", 5, "recon takes none"),
        ("recon", 1, "recon takes none"),
        ("nll", 0, "whole number of posterior draws >= 1"),
        ("elbo", -3, "whole number of posterior draws >= 1"),
        ("nll", 2.5, "whole number"),
        ("nll", True, "whole number"),
        ("likelihood", None, "unknown score 'likelihood'"),
    ],
)
def test_bad_kinds_and_k_are_refused(vae, x, kind, k, message):
    with pytest.raises(ConfigError, match=message):
        check_score_kind(vae.model, kind, k)
    with pytest.raises(ConfigError, match=message):
        vae.score(x[:3].numpy(), kind, k=k)


def test_default_draws(vae):
    assert check_score_kind(vae.model, "nll", None) == 100
    assert check_score_kind(vae.model, "elbo", None) == 10
    assert check_score_kind(vae.model, "recon", None) is None


# --- every likelihood's per-feature terms -------------------------------------------------------

MIXED_BLOCKS = [
    {"column": "species", "kind": "categorical", "slot": 0, "size": 3, "mask": 9},
    {"column": "bill", "kind": "gaussian", "slot": 3, "mask": 10},
    {"column": "female", "kind": "bernoulli", "slot": 4, "mask": 11},
    {"column": "visits", "kind": "negbin", "slot": 5, "mask": 12, "shift": 0.7, "scale": 0.9},
    {"column": "calls", "kind": "poisson", "slot": 6, "mask": 13, "shift": -0.2, "scale": 1.3},
    {"column": "size", "kind": "categorical", "slot": 7, "size": 2, "mask": 14},
]


def _mixed_case(g):
    lik = MixedLikelihood(15, MIXED_BLOCKS)
    with torch.no_grad():
        lik.log_sigma.copy_(torch.tensor([0.3]))
        lik.log_dispersion.copy_(torch.tensor([-0.4]))
    batch = 6
    x = torch.zeros(batch, 15)
    x[:, 0:3] = torch.nn.functional.one_hot(torch.randint(3, (batch,), generator=g), 3).float()
    x[:, 3] = torch.randn(batch, generator=g)
    x[:, 4] = torch.randint(2, (batch,), generator=g).float()
    for slot, block in ((5, MIXED_BLOCKS[3]), (6, MIXED_BLOCKS[4])):
        counts = torch.randint(0, 20, (batch,), generator=g).float()
        x[:, slot] = (torch.log1p(counts) - block["shift"]) / block["scale"]
    x[:, 7:9] = torch.nn.functional.one_hot(torch.randint(2, (batch,), generator=g), 2).float()
    x[:, 9:] = (torch.rand(batch, 6, generator=g) > 0.25).float()
    for block in MIXED_BLOCKS:  # a missing cell's value slots hold 0
        width = block.get("size", 1)
        x[:, block["slot"] : block["slot"] + width] *= x[:, block["mask"], None]
    x[0, 9:] = 0.0  # one row with every cell missing
    return lik, x, lik.num_params, len(MIXED_BLOCKS)


def _gaussian_learned(g):
    lik = GaussianLikelihood(5)
    with torch.no_grad():
        lik.log_sigma.copy_(torch.randn(5, generator=g) * 0.5)
    return lik, torch.randn(6, 5, generator=g), 5, 5


LIKELIHOOD_CASES = {
    # name: g -> (likelihood, x [B, D], decoder outputs, number of terms)
    "bernoulli": lambda g: (BernoulliLikelihood(5), torch.bernoulli(torch.full((6, 5), 0.4), generator=g), 5, 5),
    "bernoulli-grey": lambda g: (BernoulliLikelihood(5), torch.rand(6, 5, generator=g), 5, 5),
    "gaussian-fixed": lambda g: (GaussianLikelihood(5, sigma=0.3), torch.randn(6, 5, generator=g), 5, 5),
    "gaussian-learned": _gaussian_learned,
    "gaussian-per-example": lambda g: (
        GaussianLikelihood(5, sigma_type="per-example"),
        torch.randn(6, 5, generator=g),
        10,
        5,
    ),
    "continuous-bernoulli": lambda g: (ContinuousBernoulliLikelihood(5), torch.rand(6, 5, generator=g), 5, 5),
    "discretized-logistic": lambda g: (
        DiscretizedLogisticLikelihood(5, levels=17),
        torch.randint(0, 17, (6, 5), generator=g).float() / 16,
        10,
        5,
    ),
    "discretized-logistic-mixture": lambda g: (
        DiscretizedLogisticLikelihood(5, levels=256, mixtures=3),
        torch.randint(0, 256, (6, 5), generator=g).float() / 255,
        45,
        5,
    ),
    "categorical": lambda g: (
        CategoricalLikelihood(7, groups=[3, 4]),
        torch.cat(
            [
                torch.nn.functional.one_hot(torch.randint(3, (6,), generator=g), 3),
                torch.nn.functional.one_hot(torch.randint(4, (6,), generator=g), 4),
            ],
            dim=1,
        ).float(),
        7,
        7,
    ),
    "mixed": _mixed_case,
}


@pytest.mark.parametrize("name", list(LIKELIHOOD_CASES))
def test_log_prob_terms_sum_to_log_prob(name):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    lik, x, outputs, features = LIKELIHOOD_CASES[name](g)
    lik = lik.double()
    x = x.double()
    params = torch.randn(6, outputs, generator=g, dtype=torch.float64) * 2
    terms = lik.log_prob_terms(x, params)
    assert terms.shape == (6, features)
    torch.testing.assert_close(terms.sum(-1), lik.log_prob(x, params), rtol=1e-10, atol=1e-9)
    assert terms.std() > 0  # the terms differ: not all of log_prob in one
    # With a leading dimension of posterior draws, as the scores pass them.
    many = torch.randn(4, 6, outputs, generator=g, dtype=torch.float64) * 2
    terms = lik.log_prob_terms(x, many)
    assert terms.shape == (4, 6, features)
    torch.testing.assert_close(terms.sum(-1), lik.log_prob(x, many), rtol=1e-10, atol=1e-9)
    for s in range(4):
        torch.testing.assert_close(terms[s], lik.log_prob_terms(x, many[s]))


def test_a_missing_table_cell_contributes_no_term():
    lik, x, outputs, _ = _mixed_case(torch.Generator().manual_seed(0))
    params = torch.randn(6, outputs)
    terms = lik.log_prob_terms(x, params)
    missing = torch.stack([x[:, b["mask"]] == 0 for b in MIXED_BLOCKS], dim=1)
    assert missing.any() and (terms[missing] == 0).all() and (terms[~missing] != 0).all()
    assert (terms[0] == 0).all()


def test_bernoulli_terms_are_each_pixels_cross_entropy():
    x = torch.tensor([[1.0, 0.0, 0.5]])
    logits = torch.tensor([[2.0, -1.0, 0.0]])
    p = torch.sigmoid(logits)
    expected = x * torch.log(p) + (1 - x) * torch.log1p(-p)
    torch.testing.assert_close(BernoulliLikelihood(3).log_prob_terms(x, logits), expected)
    assert math.isclose(BernoulliLikelihood(3).log_prob_terms(x, logits)[0, 2].item(), -math.log(2), rel_tol=1e-6)
