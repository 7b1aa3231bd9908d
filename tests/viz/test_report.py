"""The run report: one self-contained HTML page with the metrics, curves and every picture."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

from vaekit.viz.report import write_report

from .helpers import png_image

IMAGE = re.compile(r'<img class="\w+" alt="[^"]*" src="data:(image/[\w+]+);base64,([A-Za-z0-9+/=]+)">')


def inlined_images(page: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data)) for mime, data in IMAGE.findall(page)]


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "<link" not in page and "<script" not in page


@pytest.fixture(scope="module")
def image_report(digits_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "digits"
    shutil.copytree(digits_run, run)
    (run / "eval-test.json").write_text(json.dumps({"split": "test", "elbo": -12.3456789, "n_examples": 360}))
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
    assert "<th>eval-test</th>" in page and "-12.3457" in page
    assert "computed for this report" not in page
    assert '"latent_dim": 2' in page  # the config


def test_report_of_a_table_run_computes_metrics_and_explains_missing_pictures(seed_run, tmp_path):
    path = write_report(seed_run, tmp_path / "seed.html")
    page = path.read_text()
    assert_self_contained(page)
    assert "computed for this report" in page and "elbo" in page
    assert page.count("not drawn: the") == 5 and "needs image data" in page
    kinds = re.findall(r'<h2 id="(\w+)">[^<]*</h2>\n<img', page)
    assert kinds == ["curves", "latents", "diagram"]


def test_metrics_table_rounds_numbers_inside_lists_and_dicts():
    from vaekit.viz.report import metrics_table

    table = metrics_table({"eval-test": {"kl_per_dim": [1.23456789, 0.5], "probe": {"accuracy": 0.912345}, "n": 3}})
    assert "1.2346, 0.5000" in table
    assert "accuracy: 0.9123" in table
    assert "0.912345" not in table and "<td>3</td>" in table
