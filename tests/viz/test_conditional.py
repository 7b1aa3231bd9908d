"""Every picture of a conditional (cvae) run, drawn under the examples' own labels."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from vaekit import viz
from vaekit.cli import main
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.viz.figure import DPI
from vaekit.viz.report import write_report

from .helpers import assert_valid_picture, png_image


def figure_size(fig) -> tuple[int, int]:
    w, h = fig.get_size_inches()
    return round(w * DPI), round(h * DPI)


def tiles(picture: np.ndarray, side: int = 8, pad: int = 1, scale: int = 1) -> np.ndarray:
    """Cut a grey grid picture back into its tiles ``[rows, cols, side, side]`` in [0, 1]."""
    step = (side + pad) * scale
    rows, cols = (picture.shape[0] - pad * scale) // step, (picture.shape[1] - pad * scale) // step
    out = np.empty((rows, cols, side, side))
    for r in range(rows):
        for c in range(cols):
            y, x = pad * scale + r * step, pad * scale + c * step
            out[r, c] = picture[y : y + side * scale : scale, x : x + side * scale : scale] / 255.0
    return out


def test_samples_have_one_row_per_class_and_the_rows_differ(cvae):
    vae, _, _ = cvae
    picture = viz.sample_grid(vae, 6, scale=1)
    cells = tiles(picture)
    assert cells.shape[:2] == (10, 6)  # digits: 10 classes, 6 samples each
    assert_valid_picture(viz.picture_png(picture), picture.shape[1], picture.shape[0])
    for j, k in ((0, 1), (3, 8)):
        assert np.abs(cells[j] - cells[k]).max() > 0.05
    # Row k is decoded under label k from the same prior draws in every row.
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        z = vae.model.prior.sample(6)
    expected = vae.decode(z, labels=3).numpy().reshape(6, 8, 8)
    assert np.allclose(cells[3], expected, atol=1 / 255)


def test_samples_under_one_label(cvae):
    vae, _, _ = cvae
    three = viz.sample_grid(vae, 16, label=3, scale=1)
    seven = viz.sample_grid(vae, 16, label=7, scale=1)
    assert three.shape == seven.shape == (2 * 9 + 1, 8 * 9 + 1)
    assert not np.array_equal(three, seven)
    assert np.array_equal(three, viz.sample_grid(vae, 16, label=3, scale=1))


def test_reconstructions_use_the_examples_own_labels(cvae):
    vae, x, labels = cvae
    picture = viz.reconstruction_grid(vae, x, n=16, ncol=8, scale=1, labels=labels)
    cells = tiles(picture)
    expected = vae.reconstruct(x[:16], labels=labels[:16]).numpy().reshape(16, 8, 8)
    assert np.allclose(cells[0], x[:8].numpy().reshape(8, 8, 8), atol=1 / 255)
    assert np.allclose(cells[1], expected[:8], atol=1 / 255)
    assert np.allclose(cells[3], expected[8:], atol=1 / 255)
    wrong = vae.reconstruct(x[:8], labels=(labels[:8] + 1) % 10).numpy().reshape(8, 8, 8)
    assert not np.allclose(cells[1], wrong, atol=1 / 255)


def test_pictures_of_examples_need_their_labels(cvae):
    vae, x, _ = cvae
    with pytest.raises(ConfigError, match="conditional"):
        viz.reconstruction_grid(vae, x)
    with pytest.raises(ConfigError, match="conditional"):
        viz.latent_scatter(vae, x)


def test_interpolation_moves_the_condition_from_one_label_to_the_other(cvae):
    vae, x, labels = cvae
    a, b = viz.interpolation.default_pair(labels, len(x))
    pair = [int(labels[a]), int(labels[b])]
    assert pair[0] != pair[1]
    images = viz.interpolation_rows(vae, x[a], x[b], steps=5, methods=("linear",), labels=pair)
    assert images.shape == (7, 1, 8, 8)
    ends = [vae.reconstruct(x[i : i + 1], labels=[y]).numpy() for i, y in ((a, pair[0]), (b, pair[1]))]
    assert np.allclose(images[1], ends[0][0], atol=1e-5)
    assert np.allclose(images[5], ends[1][0], atol=1e-5)
    # The middle step is decoded under the even mixture of the two one-hot labels.
    za = vae.encode(x[a : a + 1], labels=[pair[0]]).numpy()[0]
    zb = vae.encode(x[b : b + 1], labels=[pair[1]]).numpy()[0]
    mix = np.zeros((1, 10), dtype=np.float32)
    mix[0, pair] = 0.5
    middle = vae.decode(((za + zb) / 2)[None], labels=mix).numpy()
    assert np.allclose(images[3], middle[0], atol=1e-5)
    fig = viz.interpolation_figure(vae, x[a], x[b], steps=6, labels=pair)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    assert f"(class {pair[0]} → class {pair[1]})" in fig.axes[0].get_title()


def test_traversal_is_decoded_under_the_examples_label(cvae):
    vae, x, labels = cvae
    values = np.array([-2.0, 0.0, 2.0], dtype=np.float32)
    y = int(labels[0])
    images = viz.traversal_rows(vae, x[0], [0], values, label=y)
    z = vae.encode(x[:1], labels=[y]).numpy().repeat(3, axis=0)
    z[:, 0] = values
    assert np.allclose(images.reshape(3, -1), vae.decode(z, labels=y).numpy().reshape(3, -1), atol=1e-6)
    mu, logvar = vae.encode_distribution(x, labels=labels)
    expected = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0).numpy()
    assert np.allclose(viz.kl_per_dimension(vae, x, labels=labels), expected, rtol=1e-5, atol=1e-6)
    fig = viz.traversal_figure(vae, x[0], x, steps=5, label=y, labels=labels)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))


def test_latent_scatter_encodes_under_the_labels(cvae):
    vae, x, labels = cvae
    fig = viz.latent_scatter(vae, x, labels)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    points = fig.axes[0].collections[0].get_offsets()
    assert np.allclose(points, vae.encode(x, labels=labels).numpy(), atol=1e-5)


def test_manifold_per_class_and_under_one_label(cvae):
    vae, _, _ = cvae
    fig = viz.manifold_grid(vae, 4)
    assert_valid_picture(viz.picture_png(fig), *figure_size(fig))
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [f"class {k}" for k in range(10)]
    two = viz.manifold_grid(vae, 4, scale=1, label=2)
    five = viz.manifold_grid(vae, 4, scale=1, label=5)
    assert two.shape == (4 * 9 + 1, 4 * 9 + 1)
    assert not np.array_equal(two, five)


def test_the_per_class_manifold_draws_8_x_8_grids_at_whole_pixels_per_image_pixel(cvae):
    from vaekit.viz.manifold import PANEL_PX

    vae, _, _ = cvae
    fig = viz.manifold_grid(vae)
    grids = [ax.images[0].get_array() for ax in fig.axes if ax.get_visible()]
    side = 8 * 9 + 1  # 8 digits of 8 pixels, a pixel of padding around each
    scale = round(PANEL_PX / side)
    assert scale > 1 and all(grid.shape[:2] == (side * scale, side * scale) for grid in grids)
    # Each panel is as large as its grid (in pixels) or larger, so nothing squeezes it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # the constrained layout places the axes as it draws
    box = fig.axes[0].get_window_extent()
    assert min(box.width, box.height) >= side * scale - 1


def test_a_label_out_of_range_is_refused(cvae):
    vae, _, _ = cvae
    with pytest.raises(DataError, match="labels must be in 0..9"):
        viz.sample_grid(vae, 4, label=10)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("kind", ["samples", "recon", "interp", "traverse", "latents", "manifold"])
def test_plot_draws_each_picture_of_a_cvae_run(cvae_run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = invoke("plot", cvae_run, kind, "--out", out)
    assert result.exit_code == 0, result.output
    assert png_image(out.read_bytes()).std() > 5


def test_plot_label_option(cvae_run, digits_run, tmp_path):
    out = tmp_path / "s.png"
    assert invoke("plot", cvae_run, "samples", "-n", 8, "--label", 4, "--out", out).exit_code == 0
    height, width = png_image(out.read_bytes()).shape[:2]
    assert height == (8 + 2) * 4 and width > (8 * 9 + 1) * 4  # one row of 8, its class named at the left
    assert invoke("plot", cvae_run, "manifold", "--grid", 4, "--label", 4, "--out", out).exit_code == 0
    assert png_image(out.read_bytes()).shape[0] == (4 * 9 + 1) * (480 // 36)
    np.save(tmp_path / "row.npy", np.full(64, 0.5, dtype=np.float32))
    missing = invoke("plot", cvae_run, "traverse", "--example", tmp_path / "row.npy", "--out", out)
    assert missing.exit_code == 2 and "--label" in missing.output
    given = invoke("plot", cvae_run, "interp", "--to", tmp_path / "row.npy", "--label", 1, "--out", out)
    assert given.exit_code == 0, given.output
    unconditional = invoke("plot", digits_run, "samples", "--label", 1, "--out", out)
    assert unconditional.exit_code == 2 and "conditional" in unconditional.output


def test_report_of_a_cvae_run_draws_every_picture(cvae_run, tmp_path):
    import shutil

    run = shutil.copytree(cvae_run, tmp_path / "cvae")
    page = write_report(run).read_text()
    assert "not drawn" not in page
    assert page.count("data:image/png;base64,") == 7
    assert "one row per class" in page
