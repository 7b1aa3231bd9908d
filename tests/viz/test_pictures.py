"""Every picture of a tiny trained run is a valid, non-blank PNG of the expected size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaekit
from vaekit import api, viz
from vaekit.runtime.errors import ConfigError
from vaekit.viz.figure import DPI

from .helpers import assert_valid_picture


@pytest.fixture(scope="module")
def seed_table(seed_run):
    vae = vaekit.load(seed_run)
    x, labels = api.resolve_eval_data(vae, None, "test")
    return vae, x, labels


def grid_size(n: int, ncol: int, side: int, pad: int, scale: int) -> tuple[int, int]:
    rows = -(-n // ncol)
    return (ncol * (side + pad) + pad) * scale, (rows * (side + pad) + pad) * scale


def figure_size(fig) -> tuple[int, int]:
    w, h = fig.get_size_inches()
    return round(w * DPI), round(h * DPI)


def test_sample_grid_is_an_image_of_n_tiles(digits):
    vae, _, _ = digits
    picture = viz.sample_grid(vae, 24, ncol=8, scale=3)
    assert picture.dtype == np.uint8
    assert_valid_picture(viz.picture_png(picture), *grid_size(24, 8, 8, 1, 3))


def test_samples_depend_on_seed_and_temperature_but_not_on_global_rng(digits):
    vae, _, _ = digits
    torch.manual_seed(123)
    before = torch.rand(1)
    a = viz.sample_grid(vae, 8, seed=1)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), before)  # the global RNG is untouched
    assert np.array_equal(a, viz.sample_grid(vae, 8, seed=1))
    assert not np.array_equal(a, viz.sample_grid(vae, 8, seed=2))
    assert not np.array_equal(a, viz.sample_grid(vae, 8, seed=1, temperature=0.1))


def test_reconstruction_grid_puts_originals_above_reconstructions(digits):
    vae, x, _ = digits
    picture = viz.reconstruction_grid(vae, x, n=16, ncol=8, scale=1)
    assert_valid_picture(viz.picture_png(picture), *grid_size(32, 8, 8, 1, 1))
    first_original = picture[1:9, 1:9] / 255.0
    first_recon = picture[10:18, 1:9] / 255.0
    expected = vae.reconstruct(x[:1]).numpy().reshape(8, 8)
    assert np.allclose(first_original, x[0].numpy().reshape(8, 8), atol=1 / 255)
    assert np.allclose(first_recon, expected, atol=1 / 255)


def test_interpolation_figure(digits):
    vae, x, labels = digits
    fig = viz.interpolation_figure(vae, x[0], x[1], steps=6)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))


def test_interpolation_rows_start_and_end_at_the_two_codes(digits):
    vae, x, _ = digits
    images = viz.interpolation_rows(vae, x[0], x[1], steps=5, methods=("linear", "spherical"))
    assert images.shape == (2 * 7, 1, 8, 8)
    ends = vae.reconstruct(x[:2]).numpy()
    for row in range(2):
        assert np.allclose(images[row * 7 + 1], ends[0], atol=1e-5)
        assert np.allclose(images[row * 7 + 5], ends[1], atol=1e-5)
        assert np.allclose(images[row * 7], x[0].numpy().reshape(1, 8, 8))


def test_traversal_figure(digits):
    vae, x, _ = digits
    fig = viz.traversal_figure(vae, x[0], x, steps=7)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))


def test_traversal_rejects_too_few_steps_or_dimensions(digits):
    vae, x, _ = digits
    for options in ({"steps": 1}, {"max_dims": 0}):
        with pytest.raises(ConfigError, match="traversal needs"):
            viz.traversal_figure(vae, x[0], x, **options)


def test_traversal_row_changes_only_its_dimension(digits):
    vae, x, _ = digits
    values = np.array([-3.0, 0.0, 3.0], dtype=np.float32)
    images = viz.traversal_rows(vae, x[0], [1], values)
    z = vae.encode(x[:1]).numpy().repeat(3, axis=0)
    z[:, 1] = values
    assert np.allclose(images.reshape(3, -1), vae.decode(z).numpy().reshape(3, -1), atol=1e-6)


def test_kl_per_dimension_is_the_mean_analytic_kl(digits):
    vae, x, _ = digits
    mu, logvar = vae.encode_distribution(x)
    expected = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0).numpy()
    assert np.allclose(viz.kl_per_dimension(vae, x), expected, rtol=1e-5, atol=1e-6)


def test_dimensions_are_ordered_by_kl_most_informative_first():
    assert viz.informative_dimensions(np.array([0.1, 2.0, 0.5, 2.0])) == [1, 3, 2, 0]
    assert viz.informative_dimensions(np.array([0.1, 2.0, 0.5]), limit=2) == [1, 2]


def test_latent_scatter_of_an_image_run(digits):
    vae, x, labels = digits
    fig = viz.latent_scatter(vae, x, labels)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    assert fig.axes[0].get_xlabel() == "z0"  # L = 2: the means themselves


def test_latent_scatter_of_a_table_run_uses_pca(seed_table):
    vae, x, labels = seed_table
    fig = viz.latent_scatter(vae, x, labels, method="pca")
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    assert fig.axes[0].get_xlabel().startswith("PC1")


def test_embed_2d_pca_and_tsne_give_two_columns():
    z = np.random.default_rng(0).normal(size=(40, 5))
    for method in ("pca", "tsne"):
        points, names = viz.embed_2d(z, method)
        assert points.shape == (40, 2) and np.isfinite(points).all() and len(names) == 2
    with pytest.raises(ConfigError, match="projection"):
        viz.embed_2d(z, "umap")


def test_manifold_grid_decodes_prior_quantiles(digits):
    vae, _, _ = digits
    picture = viz.manifold_grid(vae, n=5, scale=1)
    assert_valid_picture(viz.picture_png(picture), *grid_size(25, 5, 8, 1, 1))
    q = viz.quantile_grid(5)
    top_left = vae.decode(np.array([[q[0], q[-1]]], dtype=np.float32)).numpy().reshape(8, 8)
    assert np.allclose(picture[1:9, 1:9] / 255.0, top_left, atol=1 / 255)


def test_quantile_grid_has_equal_prior_mass_between_points():
    from statistics import NormalDist

    q = viz.quantile_grid(7)
    cdf = np.array([NormalDist().cdf(v) for v in q])
    assert np.allclose(np.diff(cdf), 0.15) and np.allclose(q, -q[::-1], atol=1e-6)


def test_manifold_refuses_a_latent_space_that_is_not_2d(tmp_path):
    vae = vaekit.train(
        data="digits", encoder=[8], latent_dim=3, epochs=1, batch_size=256, out=tmp_path / "r", progress="quiet"
    )
    with pytest.raises(ConfigError, match="2-D latent space.*latent_dim 3"):
        viz.manifold_grid(vae)


def test_image_pictures_of_a_table_run_say_what_works_instead(seed_table):
    vae, x, _ = seed_table
    for draw in (
        lambda: viz.sample_grid(vae),
        lambda: viz.reconstruction_grid(vae, x),
        lambda: viz.interpolation_figure(vae, x[0], x[1]),
        lambda: viz.traversal_figure(vae, x[0], x),
        lambda: viz.manifold_grid(vae),
    ):
        with pytest.raises(ConfigError, match="needs image data.*latents"):
            draw()


def test_training_curves_from_metrics(digits_run):
    records = viz.read_metrics(digits_run)
    assert [r["epoch"] for r in records] == [1, 2]
    fig = viz.training_curves(records, digits_run)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    titles = [ax.get_title() for ax in fig.axes]
    assert any("KL" in t for t in titles)
    assert {line.get_label() for line in fig.axes[0].get_lines()} == {"train", "val"}
    # Epochs are whole: no tick at 1.5 between the two.
    assert all(float(t).is_integer() for ax in fig.axes for t in ax.get_xticks())


def curve_titles(fig):
    return [ax.get_title() for ax in fig.axes]


def test_curves_of_a_bernoulli_on_grey_levels_call_nothing_an_elbo(digits_run):
    # digits_run: a Bernoulli likelihood on the digits' 17 grey levels, not a likelihood of them.
    fig = viz.training_curves(viz.read_metrics(digits_run), vaekit.load(digits_run))
    titles = curve_titles(fig)
    assert titles[0] == "training loss = reconstruction loss + KL (nats/example)"
    assert titles[1] == "reconstruction term - KL (nats/example; not an ELBO)"
    assert titles[3] == "reconstruction term (nats/example; not a log-likelihood)"
    assert not any(t.startswith(("ELBO", "loss = -ELBO", "reconstruction E_q log")) for t in titles)
    assert "not exact for these data" in fig.get_suptitle()


def test_curves_of_an_exact_likelihood_call_the_elbo_an_elbo(binarized_digits_run):
    fig = viz.training_curves(viz.read_metrics(binarized_digits_run), binarized_digits_run)
    assert curve_titles(fig) == [
        "loss = -ELBO (nats/example)",
        "ELBO (nats/example; higher is better)",
        "KL(q(z|x) || p(z)) (nats/example)",
        "reconstruction E_q log p(x|z) (nats/example)",
    ]
    assert fig.get_suptitle() == ""


def test_curves_without_the_model_claim_no_elbo_and_other_objectives_name_their_loss(digits_run):
    from vaekit.viz.curves import CurveLabels

    titles = curve_titles(viz.training_curves(viz.read_metrics(digits_run)))
    assert not any(t.startswith(("ELBO", "loss = -ELBO")) for t in titles)
    assert "an ELBO only if" in titles[1]
    (_, title, legend), *_ = CurveLabels(exact=True, objective="beta-elbo").panels()
    assert title == "training loss (nats/example)"
    assert legend == {"train": "train: beta-ELBO objective", "val": "val: -ELBO"}
    assert CurveLabels(exact=True, objective="iwae").panels()[0][2]["train"] == "train: -IWAE bound"


def test_plot_curves_labels_the_run_it_draws(digits_run):
    from vaekit.viz import plots

    fig = plots._curves(plots.PlotRequest(digits_run))
    assert "not an ELBO" in curve_titles(fig)[1]


def test_read_metrics_skips_a_cut_line_and_reports_a_missing_file(tmp_path):
    from vaekit.runtime.errors import CheckpointError

    with pytest.raises(CheckpointError, match="metrics.jsonl"):
        viz.read_metrics(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 3.0}\n{"epoch": 2, "tr')
    assert viz.read_metrics(tmp_path) == [{"epoch": 1, "train_loss": 3.0}]


def test_curves_of_an_autoencoder_say_it_has_no_elbo(tmp_path):
    run = tmp_path / "ae"
    vaekit.train(
        model="ae", data="digits", binarize="dynamic", encoder=[16], latent_dim=2, epochs=1, batch_size=256,
        out=run, progress="quiet",
    )  # fmt: skip
    fig = viz.training_curves(viz.read_metrics(run), run)
    assert fig.get_suptitle().startswith("a deterministic autoencoder")
    assert {line.get_label() for line in fig.axes[0].get_lines()} == {"train: reconstruction loss", "val: reconstruction loss + KL"}
    assert "not an ELBO" in fig.axes[1].get_title()


def test_a_figure_leaves_the_users_matplotlib_backend_as_it_was(digits):
    # A notebook's inline or a GUI backend must survive a vaekit picture; a fresh process, as
    # a backend is chosen once per process.
    script = (
        "import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt; plt.plot([1])\n"
        "import torch, vaekit\n"
        f"vae = vaekit.load({str(digits[0].run_dir)!r}); x = torch.rand(6, 64)\n"
        "fig = vaekit.viz.traversal_figure(vae, x[0], x)\n"
        "from vaekit.viz.figure import figure_png; assert figure_png(fig)[:4] == b'\\x89PNG'\n"
        "print(matplotlib.get_backend())\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "svg"


def test_one_epochs_curves_stand_on_whole_epochs():
    from vaekit.viz.curves import training_curves

    fig = training_curves([{"epoch": 1, "train_loss": 3.0, "train_elbo": -3.0, "train_kl": 0.5, "train_recon": -2.5}])
    bottom = [ax for ax in fig.axes if ax.get_xlabel() == "epoch"]
    assert bottom and all(ax.get_xlim() == (0.0, 2.0) for ax in bottom)
    assert all(float(t).is_integer() for ax in bottom for t in ax.get_xticks())
