"""Pictures of models with stochastic layers: each layer's KL by epoch, samples layer by layer
with labelled rows, and both in the run report."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import vaekit
from vaekit.runtime.errors import ConfigError
from vaekit.viz.curves import layer_kl_curves, read_metrics
from vaekit.viz.figure import figure_png
from vaekit.viz.report import write_report
from vaekit.viz.samples import layer_row_labels, layer_sample_figure

from .helpers import assert_valid_picture


@pytest.fixture(scope="module")
def three_layer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hvae3"
    vaekit.train(data="digits", binarize="dynamic", model="hvae", encoder=[16], latent_dim=6, epochs=3,
                 batch_size=64, options={"upper_latents": [4, 2]}, out=out, progress="quiet")  # fmt: skip
    return out


def test_row_labels_name_the_layers_each_row_draws_and_decodes_through_their_means():
    assert layer_row_labels(2) == ["z2 drawn,\nz1 mean", "all layers drawn\n(z2..z1)"]
    assert layer_row_labels(3) == ["z3 drawn,\nz2..z1 means", "z3..z2 drawn,\nz1 mean", "all layers drawn\n(z3..z1)"]


def test_the_layers_figure_labels_one_row_per_layer(three_layer_run):
    fig = layer_sample_figure(vaekit.load(three_layer_run), n=6)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == layer_row_labels(3)
    ticks = ax.get_yticks()
    assert list(ticks) == sorted(ticks) and len(set(ticks)) == 3  # one label per row, top row first
    assert "top layer z3" in ax.get_title()
    png = figure_png(fig)
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    assert_valid_picture(png, width, height)


def test_each_layers_kl_is_drawn_for_training_and_validation(three_layer_run):
    records = read_metrics(three_layer_run)
    fig = layer_kl_curves(records)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {f"z{i} {split}" for i in (1, 2, 3) for split in ("train", "val")}
    # The curves are the numbers in metrics.jsonl, layer by layer.
    for i in range(3):
        assert list(lines[f"z{i + 1} val"].get_ydata()) == [r["val_kl_layers"][i] for r in records]
        assert list(lines[f"z{i + 1} train"].get_xdata()) == [r["epoch"] for r in records]
    assert "nats/example" in ax.get_title()


def test_layer_kl_is_log_scaled_when_a_layer_has_nearly_collapsed():
    records = [{"epoch": e, "train_kl_layers": [20.0 + e, 0.01]} for e in (1, 2, 3)]
    assert layer_kl_curves(records).axes[0].get_yscale() == "log"
    records = [{"epoch": e, "train_kl_layers": [20.0 + e, 5.0]} for e in (1, 2, 3)]
    assert layer_kl_curves(records).axes[0].get_yscale() == "linear"


def test_a_layer_kl_estimated_below_zero_stays_on_the_plot():
    # Under a flow the per-layer KL is a Monte Carlo estimate: a nearly collapsed layer's dips below 0.
    records = [{"epoch": e, "train_kl_layers": [1.5, kl]} for e, kl in ((1, 0.9), (2, 0.005), (3, -0.004), (4, 0.0))]
    (ax,) = layer_kl_curves(records).axes
    assert ax.get_yscale() == "symlog" and "below 0" in ax.get_title()
    low, high = ax.get_ylim()
    assert low < -0.004 and high > 1.5  # every point inside the axes
    assert all(float(t).is_integer() for t in ax.get_xticks())
    # Estimates below 0 are named on a linear axis too; a KL that is never below 0 is not.
    records = [{"epoch": e, "train_kl_layers": [1.5, kl]} for e, kl in ((1, 0.9), (2, -0.2))]
    (ax,) = layer_kl_curves(records).axes
    assert ax.get_yscale() == "linear" and "below 0" in ax.get_title()
    records = [{"epoch": e, "train_kl_layers": [1.5, kl]} for e, kl in ((1, 0.9), (2, 0.0))]
    assert "below 0" not in layer_kl_curves(records).axes[0].get_title()


def test_a_run_with_one_layer_gets_a_message_not_an_empty_plot(digits_run):
    with pytest.raises(ConfigError, match="one stochastic layer.*hvae and lvae"):
        layer_kl_curves(read_metrics(digits_run))


def test_the_plot_command_draws_both_pictures(three_layer_run, tmp_path):
    from click.testing import CliRunner

    from vaekit.cli import main

    for kind in ("layers", "kl-layers"):
        out = tmp_path / f"{kind}.png"
        result = CliRunner().invoke(main, ["plot", str(three_layer_run), kind, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_of_a_hierarchy_shows_layer_kl_and_layer_samples(three_layer_run, tmp_path):
    run = tmp_path / "hvae3"
    shutil.copytree(three_layer_run, run)
    page = write_report(run, k=10, progress="quiet").read_text()
    headings = re.findall(r'<h2 id="([\w-]+)">', page)
    assert headings.index("curves") < headings.index("kl-layers") < headings.index("samples") < headings.index("layers")
    for kind in ("kl-layers", "layers"):
        section = page.split(f'<h2 id="{kind}">')[1].split("<h2")[0]
        assert "<img" in section and "not drawn" not in section


def test_the_report_of_a_one_layer_model_has_no_layer_sections(digits_run, tmp_path):
    run = tmp_path / "digits"
    shutil.copytree(digits_run, run, ignore=shutil.ignore_patterns("eval-*.json", "report.html"))
    page = write_report(run, k=0, progress="quiet").read_text()
    assert 'id="kl-layers"' not in page and 'id="layers"' not in page
    assert json.loads((run / "eval-test.json").read_text())  # the report's own evaluation was saved
