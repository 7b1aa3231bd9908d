"""Pictures that explain themselves: row labels beside the grids of samples and reconstructions,
and interpolation titles that name both ends."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import vaekit
from vaekit import api, viz
from vaekit.viz.grid import auto_scale, image_grid, interleave_rows, label_rows
from vaekit.viz.interpolation import interpolation_title
from vaekit.viz.plots import PlotRequest, _interp
from vaekit.viz.samples import sample_row_labels

from .helpers import png_image

#: grey levels darker than this in the white label margin are text
INK = 128


def split_margin(labelled: np.ndarray, bare: np.ndarray) -> np.ndarray:
    """Return the label margin of ``labelled``, asserting that the rest of it is ``bare`` unchanged."""
    margin = labelled.shape[1] - bare.shape[1]
    assert margin > 0 and labelled.shape[0] == bare.shape[0]
    assert np.array_equal(labelled[:, margin:], bare)  # the grid itself is not resampled
    return labelled[:, :margin]


def inked_bands(margin: np.ndarray, rows: int) -> list[bool]:
    """Return, for each of ``rows`` equal bands of the margin, whether text is written in it."""
    grey = margin if margin.ndim == 2 else margin.min(axis=2)
    edges = np.linspace(0, len(grey), rows + 1).round().astype(int)
    return [bool((grey[a:b] < INK).any()) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("channels", [1, 3])
def test_label_rows_writes_each_label_within_its_own_row(channels):
    images = np.random.default_rng(0).random((24, channels, 8, 8))
    bare = image_grid(images, ncol=8, scale=4)
    labelled = label_rows(bare, ["original", "reconstruction", "original"])
    margin = split_margin(labelled, bare)
    assert margin.shape[1] >= 60  # room for "reconstruction" at a legible size
    assert inked_bands(margin, 3) == [True] * 3
    # Text stays off the boundaries between rows, so neighbouring labels never touch.
    grey = margin if margin.ndim == 2 else margin.min(axis=2)
    for boundary in (bare.shape[0] // 3, 2 * bare.shape[0] // 3):
        assert (grey[boundary - 1 : boundary + 1] >= INK).all()


def test_label_rows_cuts_long_names_short():
    bare = image_grid(np.zeros((2, 1, 8, 8)), ncol=1, scale=4)
    short, long = label_rows(bare, ["cat", "dog"]), label_rows(bare, ["x" * 200, "dog"])
    assert short.shape[1] < long.shape[1] < short.shape[1] + 250


def test_reconstruction_grid_labels_originals_and_reconstructions(digits):
    vae, x, _ = digits
    bare = viz.reconstruction_grid(vae, x, n=16, ncol=8)
    margin = split_margin(viz.reconstruction_grid(vae, x, n=16, ncol=8, row_labels=True), bare)
    assert inked_bands(margin, 4) == [True] * 4


def test_unconditional_samples_need_no_row_labels(digits):
    vae, _, _ = digits
    assert sample_row_labels(vae, 8) is None
    assert np.array_equal(viz.sample_grid(vae, 16, row_labels=True), viz.sample_grid(vae, 16))


def test_conditional_samples_name_the_class_of_each_row(cvae, monkeypatch):
    vae, _, _ = cvae
    assert sample_row_labels(vae, 10) == [f"class {k}" for k in range(10)]
    assert sample_row_labels(vae, 2, label=3) == ["class 3", "class 3"]
    bare = viz.sample_grid(vae)
    margin = split_margin(viz.sample_grid(vae, row_labels=True), bare)
    assert inked_bands(margin, 10) == [True] * 10
    names = [f"digit {k}" for k in range(10)]  # a run on class folders keeps their names
    monkeypatch.setattr(vae.config, "class_names", names)
    assert sample_row_labels(vae, 10) == names
    assert viz.sample_grid(vae, row_labels=True).shape[1] > viz.sample_grid(vae, 4, label=2).shape[1]


def test_interleave_rows_keeps_reconstructions_under_their_originals():
    originals, recon = np.zeros((10, 4)), np.ones((10, 4))
    pairs = interleave_rows(originals, recon, ncol=8)
    assert pairs.shape == (32, 4)
    assert (pairs[:8] == 0).all() and (pairs[8:16] == 1).all()
    assert (pairs[16:18] == 0).all() and (pairs[24:26] == 1).all()
    assert (pairs[18:24] == 0.5).all() and (pairs[26:] == 0.5).all()  # blank tiles, the padding's grey


def test_run_folder_pictures_are_labelled(digits_run, tmp_path):
    run = shutil.copytree(digits_run, tmp_path / "run")
    vae = vaekit.load(run)
    viz.write_run_pictures(vae)
    x, _ = api.resolve_eval_data(vae, None, "test")
    pairs = interleave_rows(x[:32].numpy().reshape(32, -1), vae.reconstruct(x[:32]).numpy().reshape(32, -1))
    bare = image_grid(pairs.reshape(64, 1, 8, 8), ncol=8)
    scale = auto_scale(bare.shape[0])
    bare = bare.repeat(scale, axis=0).repeat(scale, axis=1)
    margin = split_margin(png_image((run / "reconstructions.png").read_bytes())[..., 0], bare)
    assert inked_bands(margin, 8) == [True] * 8
    samples = png_image((run / "samples.png").read_bytes())
    assert samples.shape[0] == samples.shape[1]  # 64 unconditional samples: a square grid, no margin


def test_conditional_run_folder_samples_have_one_labelled_row_per_class(cvae_run, tmp_path):
    run = shutil.copytree(cvae_run, tmp_path / "run")
    vae = vaekit.load(run)
    viz.write_run_pictures(vae)
    bare = viz.sample_grid(vae, scale=auto_scale(10 * 9 + 1))  # 10 classes, 8 each, as `plot samples` draws
    margin = split_margin(png_image((run / "samples.png").read_bytes())[..., 0], bare)
    assert inked_bands(margin, 10) == [True] * 10


def test_interpolation_title_names_both_ends():
    assert interpolation_title(10, ("example A", "example B")) == "example A → 10 decoded steps → example B"
    title = interpolation_title(4, ("test example 0", "test example 7"), ("class 0", "cat"))
    assert title == "test example 0 → 4 decoded steps → test example 7 (class 0 → cat)"


def test_interpolation_figure_titles(digits, cvae, digits_run, cvae_run):
    vae, x, _ = digits
    assert viz.interpolation_figure(vae, x[0], x[1], steps=6).axes[0].get_title() == (
        "example A → 6 decoded steps → example B"
    )
    assert _interp(PlotRequest(digits_run, options={"start": 2, "end": -1})).axes[0].get_title() == (
        f"test example 2 → 10 decoded steps → test example {len(x) - 1}"
    )
    _, _, labels = cvae
    title = _interp(PlotRequest(cvae_run)).axes[0].get_title()
    b = int(np.flatnonzero(labels != labels[0])[0])
    assert title == f"test example 0 → 10 decoded steps → test example {b} (class {labels[0]} → class {labels[b]})"
