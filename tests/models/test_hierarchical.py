"""The hierarchical families (hvae: Burda et al. 2015; lvae: Sonderby et al. 2016): shapes and
the model interface, the bounds over all layers, training, evaluation and bad layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vaekit
from vaekit.config import RunConfig, apply_overrides
from vaekit.evaluation.iwae import _bound, _skip_draws, log_likelihood_bounds
from vaekit.models import HierarchicalOutput
from vaekit.objectives import ELBOObjective, IWAEObjective
from vaekit.runtime.errors import ConfigError
from vaekit.training.build import build_model

#: "lvae-authors": the ladder VAE as the authors' code builds it (see ``small``)
FAMILIES = ["hvae", "lvae", "lvae-authors"]
AUTHORS_LADDER = {"upward": "means", "share_top_down": False}


def small(family: str, net: str = "mlp", latent: int = 6, value_range: str = "binary", **options) -> torch.nn.Module:
    if family == "lvae-authors":
        family, options = "lvae", {**AUTHORS_LADDER, **options}
    config = RunConfig()
    config.model.name, config.model.latent_dim = family, latent
    config.model.net = {"name": net, "encoder": [16]}
    config.model.options.update(options)
    config.input_shape, config.value_range, config.levels, config.num_classes = [1, 4, 4], value_range, 2, 10
    torch.manual_seed(0)
    return build_model(config)


def binary(n: int = 5, d: int = 16, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_a_hierarchy_meets_the_model_interface_on_z1(family, net):
    model = small(family, net, upper_latents=[4, 2], upper_hidden=[[8], [8, 8]])
    B, L = 5, 6
    x = binary(B)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (B, L) and model.latent_dim == L
    assert model.decode(torch.randn(3, B, L)).shape == (3, B, 16)
    assert model.prior.sample(7, temperature=0.5).shape == (7, L)
    assert [z.shape for z in model.prior.sample_layers(7, means_below=2)] == [(7, 6), (7, 4), (7, 2)]
    out = model(x)
    assert isinstance(out, HierarchicalOutput)
    assert out.recon_log_prob.shape == out.kl.shape == (B,)
    assert out.kl_per_dim.shape == out.z.shape == (B, L)
    assert out.kl_layers.shape == (B, 3) and out.kl_dims.shape == (B, 12)
    torch.testing.assert_close(out.kl_layers.sum(-1), out.kl)
    assert out.layer_means is None  # training mode: no extra pass through batch normalisation
    model.eval()
    out = model(x)
    assert [m.shape for m in out.layer_means] == [(B, 6), (B, 4), (B, 2)]
    torch.testing.assert_close(out.mu, model.encode(x)[0])
    weights = model.log_weights(x, 4)
    assert weights.log_weights.shape == (4, B) and weights.kl_layers.shape == (4, B, 3)
    assert model.own_log_weights and sorted(model.noise_widths) == [2, 4, 6]
    with pytest.raises(NotImplementedError, match="log_weights"):
        model.prior.log_prob(mu)


def test_burdas_layout_is_the_default_upper_layer():
    model = small("hvae", latent=100, activation="tanh")
    assert model.widths == (100, 50)
    linear = [m for m in model.upward[0].modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(100, 100), (100, 100), (100, 50), (100, 50)]
    assert any(isinstance(m, torch.nn.Tanh) for m in model.upward[0].modules())
    generative = [m for m in model.prior.conditionals[0].modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in generative] == [(50, 100), (100, 100), (100, 100), (100, 100)]


def test_the_authors_ladder_reads_the_means_upward_and_infers_with_its_own_top_down_nets():
    shared, authors = small("lvae", upper_latents=[4, 2]), small("lvae-authors", upper_latents=[4, 2])
    assert shared.top_down is None and not any(name.startswith("top_down") for name, _ in shared.named_parameters())
    # The upward MLPs read mu^_l: their first layers take the width of the layer below.
    assert [net.body.layers[0].in_features for net in authors.upward] == [6, 4]
    assert [net.body.layers[0].in_features for net in shared.upward] == [16, shared.upward[0].feature_dim]
    # Inference's top-down nets mirror the prior's conditionals, with their own weights; the
    # modules both models have start from the same weights.
    assert [(n.body.layers[0].in_features, n.mu.out_features) for n in authors.top_down] == [
        (n.body.layers[0].in_features, n.mu.out_features) for n in authors.prior.conditionals
    ]
    assert not torch.equal(authors.top_down[0].mu.weight, authors.prior.conditionals[0].mu.weight)
    shared_state = shared.state_dict()
    torch.testing.assert_close(authors.encoder.state_dict(), {k[8:]: v for k, v in shared_state.items() if k.startswith("encoder.")})
    # The posterior reads the top-down nets; the prior does not.
    authors.eval()
    x = binary(4)
    before_codes, before_prior = authors.posterior_codes(x)[0][0], authors.prior.conditionals[0](torch.ones(1, 4))
    with torch.no_grad():
        authors.top_down[0].mu.bias.add_(1.0)
    assert not torch.allclose(authors.posterior_codes(x)[0][0], before_codes)
    torch.testing.assert_close(authors.prior.conditionals[0](torch.ones(1, 4)), before_prior)


@pytest.mark.parametrize("family", ["hvae", "lvae"])
def test_the_priors_hidden_widths_can_be_set_apart_from_the_upward_ones(family):
    model = small(family, upper_latents=[4, 2], upper_hidden=[[8, 8], [8]], prior_hidden=[[12, 12], [10]])
    widths = [[m.out_features for m in net.body.modules() if isinstance(m, torch.nn.Linear)] for net in model.prior.conditionals]
    assert widths == [[12, 12], [10]]
    assert [net.mu.out_features for net in model.prior.conditionals] == [6, 4]
    default = small(family, upper_latents=[4, 2], upper_hidden=[[8, 7], [5]])
    widths = [[m.out_features for m in net.body.modules() if isinstance(m, torch.nn.Linear)] for net in default.prior.conditionals]
    assert widths == [[7, 8], [5]]
    with pytest.raises(ValueError, match=r"model.prior_hidden gives 1 list\(s\) of hidden widths for 2 upper layer"):
        small(family, upper_latents=[4, 2], prior_hidden=[[12]])


def test_an_unknown_upward_input_is_refused_naming_the_choices():
    with pytest.raises((ValueError, ConfigError), match="model.upward must be one of features, means"):
        small("lvae", upward="sideways")


def test_the_upper_layers_take_the_nets_activation_unless_told():
    config_model = small("hvae")
    assert any(isinstance(m, torch.nn.ReLU) for m in config_model.upward.modules())
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in small("lvae").upward.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in small("lvae", normalization="none").modules())


@pytest.mark.parametrize("family", FAMILIES)
def test_the_elbo_is_the_one_sample_bound_with_shared_noise_and_in_expectation(family):
    model = small(family, upper_latents=[4, 2]).double()
    x = binary(6).double()
    torch.manual_seed(5)
    out = model(x)
    torch.manual_seed(5)
    weights = model.log_weights(x, 1)
    # The same draws through the same layers: log p(x|z_1) and z_1 agree exactly ...
    torch.testing.assert_close(weights.log_likelihood[0], out.recon_log_prob, rtol=0, atol=1e-12)
    # ... and the per-layer terms log q - log p at the draws are the one-sample KLs.
    mc_kl = weights.kl_layers[0].sum(-1)
    torch.testing.assert_close(weights.log_weights[0], out.recon_log_prob - mc_kl, rtol=0, atol=1e-10)
    # Closed-form KLs (top of hvae; every layer of lvae) agree with log q - log p in expectation.
    # (In eval mode: batch normalisation in training mode normalises by the batch, here n * B rows.)
    model.eval()
    n = 4000
    torch.manual_seed(6)
    many = model.log_weights(x, n)
    kl_mc = many.log_posterior - many.log_prior  # [n, B]
    torch.manual_seed(7)
    kl_closed = model(x.repeat(n, 1)).kl.reshape(n, len(x))
    stderr = (kl_mc.var(0) / n + kl_closed.var(0) / n).sqrt()
    assert ((kl_closed.mean(0) - kl_mc.mean(0)).abs() < 5 * stderr).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_the_iwae_objective_at_k1_is_the_one_sample_elbo_over_all_layers(family):
    model = small(family, upper_latents=[3]).double()
    x = binary(8).double()
    torch.manual_seed(2)
    iwae = IWAEObjective(k=1)(model, x)
    torch.manual_seed(2)
    weights = model.log_weights(x, 1)
    torch.testing.assert_close(iwae.loss, -weights.log_weights[0].mean())
    assert iwae.kl_layers.shape == (8, 2)
    torch.testing.assert_close(iwae.kl_layers.sum(-1), iwae.kl)
    elbo = ELBOObjective()(model, x)
    assert elbo.kl_layers.shape == (8, 2)


@pytest.fixture(scope="module")
def trained_hvae(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hvae"
    vaekit.train(
        data="digits", binarize="dynamic", model="hvae", encoder=[32], latent_dim=8, epochs=3, batch_size=64,
        out=out, progress="quiet",
    )  # fmt: skip
    return vaekit.load(out)


def test_a_short_training_run_lowers_the_loss(trained_hvae):
    metrics = trained_hvae.run_dir / "metrics.jsonl"
    losses = [json.loads(line)["train_loss"] for line in metrics.read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_the_importance_weighted_bound_rises_with_k_on_a_trained_model(trained_hvae):
    x, _ = vaekit.api.resolve_eval_data(trained_hvae, None, "test")
    means = [log_likelihood_bounds(trained_hvae.model, x, k).mean().item() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2]


def test_evaluate_reports_the_nll_and_active_units_per_layer(trained_hvae):
    report = vaekit.evaluate(trained_hvae, k=20)
    assert report["nll_path"] == "generic" and report["nll_stderr"] > 0
    assert report["latent_dims_per_layer"] == [8, 4]
    assert len(report["active_units_per_layer"]) == 2 and report["active_units"] == report["active_units_per_layer"][0]
    assert sum(report["kl_per_layer"]) == pytest.approx(report["kl"])
    assert report["nll"] <= -report["elbo"] + 3 * report["elbo_stderr"]  # the bound is at least the ELBO
    text = vaekit.evaluation.report.format_report(report)
    assert "active units per layer" in text and "z2:" in text


def test_a_batch_skipped_by_another_process_moves_the_generator_as_bounding_it_does(trained_hvae):
    model = trained_hvae.model.eval()
    x, _ = vaekit.api.resolve_eval_data(trained_hvae, None, "test")
    x = x[:7]
    bounded, skipped = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    _bound(model, x, 10, None, max_chunk_elements=40 * 64, generator=bounded)
    _skip_draws(model, x, 10, 40 * 64, skipped)
    assert torch.equal(bounded.get_state(), skipped.get_state())


def test_samples_and_scores_go_through_the_hierarchy(trained_hvae):
    assert trained_hvae.sample(5).shape == (5, 1, 8, 8)
    x, _ = vaekit.api.resolve_eval_data(trained_hvae, None, "test")
    whole = trained_hvae.score(x[:6], kind="nll", k=8)
    assert whole.shape == (6,) and (whole > 0).all()
    assert trained_hvae.score(x[:2], kind="elbo", k=4).shape == (2,)
    # draws are per example: an example's score does not depend on its batch's other examples
    first = trained_hvae.score(x[:2], kind="nll", k=8)
    assert first.tolist() == whole[:2].tolist()


def test_prior_draws_carry_no_graph_and_bad_layer_arguments_are_refused(trained_hvae):
    from vaekit.viz.samples import layer_sample_grid

    prior = trained_hvae.model.prior
    assert not prior.sample(3).requires_grad
    assert not any(z.requires_grad for z in prior.sample_layers(3, means_below=len(prior.widths) - 1))
    for bad in (-1, len(prior.widths), 1.5):
        with pytest.raises(ConfigError, match=r"means_below must be a layer index 0..1 \(0 is z_1\)"):
            prior.sample_layers(2, means_below=bad)
    with pytest.raises(ConfigError, match="columns >= 1, got 0"):
        layer_sample_grid(trained_hvae, 0)


@pytest.mark.parametrize("kind", ["nll", "elbo"])
def test_explanations_split_the_score_at_draws_through_the_hierarchy(trained_hvae, kind):
    from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS, chunk_sizes, decoder_outputs
    from vaekit.evaluation.scores import EXPLAIN_DRAWS, example_generators, score_examples

    model = trained_hvae.model
    x, _ = vaekit.api.resolve_eval_data(trained_hvae, None, "test")
    x = x[:6]
    parts = trained_hvae.explain(x, kind=kind, k=8)
    assert parts.contributions.shape == (6, 64)
    np.testing.assert_allclose(parts.contributions.sum(-1) + parts.latent, parts.scores, rtol=0, atol=1e-9)
    assert parts.scores.tolist() == trained_hvae.score(x, kind=kind, k=8).tolist()
    # Each pixel's term is its Bernoulli cost averaged over draws of z1 through both layers, from
    # the example's own generator after the score's draws.
    expected = []
    with torch.inference_mode():
        for xi in x.split(1):
            generator = example_generators(xi, 0)[0]
            for size in chunk_sizes(8, decoder_outputs(model, xi), DEFAULT_MAX_CHUNK_ELEMENTS, equal=True):
                model.log_weights(xi, size, generator=generator)
            params = model.log_weights(xi, min(8, EXPLAIN_DRAWS), generator=generator).params
            expected.append(-model.likelihood.log_prob_terms(xi, params).double().mean(0))
    np.testing.assert_allclose(parts.contributions, torch.cat(expected).numpy(), rtol=1e-6, atol=1e-9)
    assert (parts.contributions >= 0).all()
    # Batches of other sizes, and the examples in another order, give the same numbers.
    again = score_examples(model, [(x[:4], None), (x[4:], None)], kind, 8, explain=True)
    np.testing.assert_array_equal(again.terms.numpy(), parts.contributions)
    flipped = score_examples(model, [(x.flip(0), None)], kind, 8, explain=True)
    np.testing.assert_allclose(flipped.terms.numpy()[::-1], parts.contributions, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"upper_latents": [4, 2], "upper_hidden": [[8, 8]]}, r"gives 1 list\(s\) of hidden widths for 2 upper layer"),
        ({"upper_latents": [4, 0]}, r"model.upper_latents must be positive widths, got \[4, 0\]"),
        ({"upper_latents": []}, "needs at least one layer above z_1"),
        ({"upper_hidden": [[8, 0]]}, r"model.upper_hidden\[0\] must be positive widths"),
        ({"upper_hidden": [8, 8]}, "model.upper_hidden must be a list of lists of integers.*write \\[\\[8, 8\\]\\]"),
        ({"activation": "sigmoid"}, "unknown activation 'sigmoid'"),
        ({"depth": 3}, "takes no option 'depth'"),
    ],
)
def test_a_layout_that_does_not_fit_is_refused_naming_the_fix(options, message):
    with pytest.raises(ConfigError, match=message):
        small("hvae", **options)


def test_a_prior_other_than_the_normal_one_is_refused_for_a_hierarchy():
    config = RunConfig()
    config.model.name, config.model.latent_dim, config.model.net = "lvae", 4, {"name": "mlp", "encoder": [8]}
    apply_overrides(config, "model", prior={"name": "vamp"})
    config.input_shape, config.value_range = [16], "binary"
    with pytest.raises(ConfigError, match="prior 'vamp' does not apply: leave --prior out"):
        build_model(config)


def test_batch_norm_in_the_ladder_refuses_a_batch_of_one_in_training():
    model = small("lvae")
    with pytest.raises(ConfigError, match="batch of one example"):
        model(binary(1))
    model.eval()
    assert model(binary(1)).kl.shape == (1,)


def test_the_layers_picture_samples_one_layer_more_per_row(trained_hvae, digits_run):
    from vaekit.viz.samples import layer_sample_grid

    picture = layer_sample_grid(trained_hvae, n=5, scale=1)
    assert picture.dtype == np.uint8
    assert picture.shape == (2 * 9 + 1, 5 * 9 + 1)  # two layers: two rows of 8x8 images, 1-pixel gaps
    assert (layer_sample_grid(trained_hvae, n=5, scale=1) == picture).all()  # seeded
    with pytest.raises(ConfigError, match="several stochastic layers"):
        layer_sample_grid(vaekit.load(digits_run))


def test_a_hierarchys_traversal_names_z1s_dimensions(trained_hvae):
    from vaekit import viz

    x, _ = vaekit.api.resolve_eval_data(trained_hvae, None, "test")
    labels = [t.get_text() for t in viz.traversal_figure(trained_hvae, x[0], x[:50], steps=3).axes[0].get_yticklabels()]
    assert labels and all(label.startswith("z1[") for label in labels)
