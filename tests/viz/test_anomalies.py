"""The most unusual examples: the top N of data read in chunks equal the top of all the scores,
highest first, with what the pictures need (examples, maps, column contributions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import vaekit
from vaekit import scoring
from vaekit.api import resolve_eval_data
from vaekit.viz.anomalies import anomaly_figure, most_unusual


@pytest.fixture(scope="module")
def vae(digits_run):
    return vaekit.load(digits_run)


@pytest.fixture(scope="module")
def x(vae):
    return resolve_eval_data(vae, None, "test")[0].numpy()


@pytest.fixture
def chunks_of(monkeypatch):
    """Make every score source read ``rows`` examples at a time; return the list of chunk sizes read."""
    sizes: list[int] = []

    def use(rows: int) -> list[int]:
        real = scoring.score_source

        def small(*args, **kwargs):
            source = real(*args, **{**kwargs, "chunk_rows": rows})
            inner = source.chunks
            source.chunks = (sizes.append(len(c.ids)) or c for c in inner)
            return source

        # Both names: the picture's first pass reads through the package, score_data's explanation
        # of the top rows through the module that scores.
        monkeypatch.setattr(scoring, "score_source", small)
        monkeypatch.setattr(scoring.score, "score_source", small)
        return sizes

    return use


def expected_top(scores: np.ndarray, n: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:n]


@pytest.mark.parametrize("kind, k", [("recon", None), ("nll", 10), ("elbo", 4)])
def test_the_most_unusual_images_are_the_top_of_all_scores_across_chunks(vae, x, chunks_of, kind, k):
    sizes = chunks_of(7)
    top = most_unusual(vae, x, kind=kind, k=k, n=6, seed=3)
    # 360 examples in 52 chunks, then the maps' pass over the 6 kept
    assert sizes == [7] * 51 + [3] + [6]
    full = scoring.score_data(vae, x, kind=kind, k=k, seed=3)  # the same chunks, the same draws
    order = expected_top(full.scores, 6)
    np.testing.assert_array_equal(top.ids, order)
    np.testing.assert_array_equal(top.scores, full.scores[order])
    assert (np.diff(top.scores) <= 0).all()  # highest first
    assert top.scores[-1] >= np.sort(full.scores)[-6]
    np.testing.assert_array_equal(top.examples.numpy(), x[order])
    assert top.maps().shape == (6, *vae.input_shape)
    assert top.kind == kind


def test_the_maps_of_the_most_unusual_add_up_to_their_scores(vae, x, chunks_of):
    chunks_of(50)
    top = most_unusual(vae, x, kind="recon", n=5)
    total = top.contributions.sum(1) + top.latent
    np.testing.assert_allclose(total, top.scores, rtol=0, atol=1e-6)
    with torch.no_grad():
        xs = torch.as_tensor(x[top.ids])
        params = vae.model.decode(vae.model.encode(xs)[0])
        expected = -vae.model.likelihood.log_prob_terms(xs, params).double().numpy()
    np.testing.assert_allclose(top.contributions, expected, rtol=0, atol=1e-9)


def test_asking_for_more_than_there_are_gives_them_all_in_order(vae, x):
    top = most_unusual(vae, x[:9], kind="recon", n=20)
    full = scoring.score_data(vae, x[:9], kind="recon")
    np.testing.assert_array_equal(top.ids, expected_top(full.scores, 9))
    assert len(most_unusual(vae, x[:9], kind="recon", n=0).scores) == 0


def test_the_image_figure_shows_each_example_its_reconstruction_and_map(vae, x):
    top = most_unusual(vae, x, kind="recon", n=4)
    fig = anomaly_figure(vae, top)
    pictures = [ax for ax in fig.axes if ax.images]
    assert len(pictures) >= 12  # 3 rows of 4, and the colour bar
    assert any("4 most unusual" in t.get_text() for t in fig.texts)
    assert all(ax.get_title().startswith("#") for ax in fig.axes[:12] if ax.get_title())  # positions


def test_examples_named_by_files_are_titled_by_their_names():
    from vaekit.viz.anomalies import _example_name

    assert _example_name(np.int64(7)) == "#7"
    assert _example_name("cats/0001.png") == "cats/0001.png"
    assert _example_name("a/very/deep/folder/img_000123.png") == "…/img_000123.png"  # 16 characters


# --- tables -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 150
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n),
            "size": np.round(rng.normal(10, 2, n), 2),
            "count": rng.negative_binomial(2, 0.1, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    out = tmp_path_factory.mktemp("runs") / "anomalies-table"
    vae = vaekit.train(data=frame, encoder=[16], latent_dim=2, epochs=15, batch_size=32, out=out, progress="quiet")
    rows = frame.copy()
    rows.loc[[5, 70, 140], "size"] = [90.0, -60.0, 75.0]
    return vae, rows


@pytest.mark.parametrize("kind, k", [("recon", None), ("nll", 10)])
def test_the_most_unusual_rows_are_the_top_of_all_scores_across_chunks(table, chunks_of, kind, k):
    vae, rows = table
    sizes = chunks_of(7)
    top = most_unusual(vae, rows, kind=kind, k=k, n=4)
    assert sizes == [7] * 21 + [3]  # 150 rows
    full = scoring.score_data(vae, rows, kind=kind, k=k, explain=True)
    order = expected_top(full.scores, 4)
    np.testing.assert_array_equal(top.ids, order)
    np.testing.assert_allclose(top.scores, full.scores[order], rtol=0, atol=1e-9)
    assert set(order[:3]) == {5, 70, 140}  # the rows with impossible sizes
    assert top.features == ["colour", "size", "count"] and top.contributions.shape == (4, 3)
    np.testing.assert_allclose(top.contributions, full.contributions[order], rtol=0, atol=1e-9)
    np.testing.assert_allclose(top.contributions.sum(1) + top.latent + top.units, top.scores, rtol=0, atol=1e-6)
    assert (top.contributions[:3, 1] > top.contributions[:3, [0, 2]].max(1)).all()  # the size made them unusual


def test_the_table_figure_has_a_cell_per_row_and_column(table):
    vae, rows = table
    top = most_unusual(vae, rows, kind="recon", n=3)
    fig = anomaly_figure(vae, top)
    heat = next(ax for ax in fig.axes if ax.images)
    assert heat.images[0].get_array().shape == (3, 4)  # 3 columns and the latent part
    assert [t.get_text() for t in heat.get_xticklabels()] == ["colour", "size", "count", "(latent)"]


def test_an_inf_contribution_leaves_the_colours_to_the_finite_ones_and_is_marked(table, tmp_path):
    vae, rows = table
    rows = rows.assign(colour=rows["colour"].astype(object))
    rows.loc[70, "colour"] = "purple"  # never seen in training: its row and its colour cell score inf
    top = most_unusual(vae, rows, kind="recon", n=4)
    assert np.isposinf(top.scores[0]) and np.isposinf(top.contributions[0, 0])
    heat = next(ax for ax in anomaly_figure(vae, top).axes if ax.images)
    finite = np.concatenate([top.contributions, top.latent[:, None]], axis=1)
    limit = np.abs(finite[np.isfinite(finite)]).max()
    assert heat.images[0].get_clim() == pytest.approx((-limit, limit))  # was (-0.1, 0.1), every cell saturated
    assert [t.get_text() for t in heat.texts].count("inf") == 1
    assert "inf: a category never seen in training" in [t.get_text() for t in heat.get_legend().get_texts()]


def test_plot_anomalies_names_table_rows_by_an_id_column(table, tmp_path):
    from click.testing import CliRunner

    from vaekit.cli import main

    vae, rows = table
    rows.assign(tag=[f"t{i}" for i in range(len(rows))]).to_csv(tmp_path / "rows.csv", index=False)
    args = ["plot", str(vae.run_dir), "anomalies", "--data", str(tmp_path / "rows.csv"), "-n", "3", "--score", "recon"]
    refused = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a.png")])
    assert refused.exit_code == 2 and "'tag'" in refused.output
    result = CliRunner().invoke(main, [*args, "--id-column", "tag", "--out", str(tmp_path / "a.png")])
    assert result.exit_code == 0, result.output
    top = most_unusual(vae, tmp_path / "rows.csv", kind="recon", n=3, id_column="tag")
    assert set(top.ids) == {"t5", "t70", "t140"}
    heat = next(ax for ax in anomaly_figure(vae, top).axes if ax.images)
    assert [t.get_text().split(":")[0] for t in heat.get_yticklabels()] == list(top.ids)
