"""The run report: one self-contained HTML page with the metrics, curves and every picture."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

import vaekit
from vaekit.evaluation import format_report
from vaekit.viz.report import write_report

from .helpers import png_image

#: copies of the shared runs leave out the evaluations other tests saved there
NO_EVALUATIONS = shutil.ignore_patterns("eval-*.json", "report.html")

IMAGE = re.compile(r'<img class="\w+" alt="[^"]*" src="data:(image/[\w+]+);base64,([A-Za-z0-9+/=]+)">')


def inlined_images(page: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data)) for mime, data in IMAGE.findall(page)]


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "<link" not in page and "<script" not in page


@pytest.fixture(scope="module")
def image_report(digits_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "digits"
    shutil.copytree(digits_run, run, ignore=NO_EVALUATIONS)
    vaekit.evaluate(run, save=True)  # eval-test.json: a Bernoulli on grey levels, so a loss and no NLL
    return write_report(run)


def test_report_is_written_into_the_run_folder_and_self_contained(image_report):
    assert image_report.name == "report.html"
    page = image_report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)


def test_report_inlines_every_picture_and_the_diagram(image_report):
    page = image_report.read_text()
    images = inlined_images(page)
    assert [m for m, _ in images] == ["image/png"] * 7 + ["image/svg+xml"]
    for _, data in images[:7]:
        assert png_image(data).std() > 5
    assert b'class="neuron"' in images[-1][1]
    for section in ("curves", "samples", "recon", "interp", "traverse", "latents", "manifold", "diagram"):
        assert f'<h2 id="{section}">' in page
    assert "not drawn" not in page


def test_report_shows_saved_evaluations_instead_of_computing(image_report):
    page = image_report.read_text()
    epoch = json.loads((image_report.parent / "trainer.json").read_text())["epoch"]
    assert f"<h3>eval-test.json: digits test split, last weights of epoch {epoch}, bernoulli likelihood</h3>" in page
    assert "computed for this report" not in page
    assert '"latent_dim": 2' in page  # the config


def metrics_html(page: str) -> str:
    return page[page.index("<h2>Metrics</h2>") : page.index('<h2 id="curves">')]


def test_report_shows_labelled_metrics_with_units_as_vaekit_evaluate_prints_them(image_report):
    metrics = metrics_html(image_report.read_text())
    saved = json.loads((image_report.parent / "eval-test.json").read_text())
    for line in format_report(saved).splitlines():  # the rows and notes `vaekit evaluate` prints
        label, _, value = line.strip().partition("  ")
        assert f"<th>{html_escape(label)}</th>" in metrics or html_escape(line.strip()) in metrics
        assert html_escape(value.strip()) in metrics
    assert "loss (not a likelihood)" in metrics and "nats/example" in metrics
    for raw in ("nll_skipped", "posterior_mean_variance", "kl_per_dim", "exact_likelihood", "recon_loss", "seconds"):
        assert raw not in metrics
    assert metrics.count(saved["note"].split(":")[-1].strip()[:60]) == 1  # the reason once, not twice


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_report_of_a_table_run_computes_metrics_and_explains_missing_pictures(seed_run, tmp_path):
    run = shutil.copytree(seed_run, tmp_path / "seed", ignore=NO_EVALUATIONS)
    path = write_report(run, tmp_path / "seed.html")
    page = path.read_text()
    assert_self_contained(page)
    assert "computed for this report" in page and "ELBO" in page
    assert page.count("not drawn: the") == 5 and "needs image data" in page
    kinds = re.findall(r'<h2 id="(\w+)">[^<]*</h2>\n<img', page)
    assert kinds == ["curves", "latents", "diagram"]


def test_a_saved_file_that_is_not_an_evaluation_is_named_not_dumped():
    from vaekit.viz.report import metrics_table

    table = metrics_table({"split": "test", "elbo": -12.3456789, "posterior_mean_variance": [1.0]})
    assert "not a complete vaekit evaluation" in table and "posterior_mean_variance" not in table


def test_report_without_a_saved_evaluation_says_what_it_computes_with_the_k_asked(
    binarized_digits_run, tmp_path, capsys
):
    run = shutil.copytree(binarized_digits_run, tmp_path / "run", ignore=NO_EVALUATIONS)
    page = write_report(run, k=20).read_text()
    err = capsys.readouterr().err
    assert f"no saved evaluation in {run}: computing the test NLL with K=20 importance samples" in err
    assert "NLL, K=20: " in err and "(100%)" in err  # progress as plain lines when not on a terminal
    assert "saved as eval-test-k20.json" in err
    metrics = metrics_html(page)
    epoch = json.loads((run / "trainer.json").read_text())["epoch"]
    assert f"<h3>computed for this report: digits test split, last weights of epoch {epoch}, bernoulli likelihood</h3>" in metrics
    assert "<th>NLL (K=20)</th>" in metrics and "<th>bits/dim</th>" in metrics
    # saved like `vaekit evaluate` saves it, so the next report reuses it (and says --k is unused)
    assert json.loads((run / "eval-test-k20.json").read_text())["k"] == 20
    page = write_report(run, k=5).read_text()
    assert "k=5 not used: the report shows the saved evaluations (eval-test-k20.json)" in capsys.readouterr().err
    assert "<h3>eval-test-k20.json: " in page


def test_report_default_k_is_announced_and_a_k_for_a_loss_is_refused(digits_run, tmp_path, capsys):
    from vaekit.runtime.errors import ConfigError

    run = shutil.copytree(digits_run, tmp_path / "run", ignore=NO_EVALUATIONS)
    with pytest.raises(ConfigError, match="refusing to compute an NLL.*--binarize dynamic.*leave out --k for a report without an NLL"):
        write_report(run, k=10)
    write_report(run, progress="quiet")
    assert capsys.readouterr().err == ""
    assert (run / "eval-test.json").exists()


def test_the_largest_k_comes_first_among_one_splits_evaluations(tmp_path):
    from vaekit.viz.report import read_evaluations

    for stem in ("eval-test-k100", "eval-test-k5000", "eval-all-k20", "eval-test"):
        (tmp_path / f"{stem}.json").write_text("{}")
    assert list(read_evaluations(tmp_path)) == ["eval-all-k20", "eval-test-k5000", "eval-test-k100", "eval-test"]


def test_report_captions_say_what_the_labelled_pictures_show(image_report):
    page = image_report.read_text()
    assert "odd rows" not in page
    assert "Test examples, each row above the row of their reconstructions (labelled at the left)" in page
    assert re.search(r"Interpolation from test example 0 to test example \d+", page)
