"""`vaekit plot` and `vaekit diagram` end to end (click's CliRunner)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vaekit.cli import main
from vaekit.viz.plots import PICTURES

from .helpers import png_image


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("kind", ["samples", "recon", "interp", "traverse", "latents", "manifold", "curves"])
def test_plot_writes_each_picture_as_png(digits_run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = invoke("plot", digits_run, kind, "--out", out)
    assert result.exit_code == 0, result.output
    assert png_image(out.read_bytes()).std() > 5


def test_plot_defaults_to_a_file_in_the_run_folder(digits_run, tmp_path):
    run = shutil.copytree(digits_run, tmp_path / "run")  # leave the shared run folder as it is
    result = invoke("plot", run, "curves")
    assert result.exit_code == 0, result.output
    assert (run / PICTURES["curves"].default_file).exists()


def test_every_registered_picture_kind_is_a_choice_of_plot():
    text = " ".join(invoke("plot", "--help").output.split())
    bad = invoke("plot", "somewhere", "histogram")
    assert bad.exit_code == 2
    for kind, entry in PICTURES.items():
        assert kind in bad.output
        assert f"{kind} {entry.description} ({entry.default_file})" in text


def test_plot_options_reach_the_picture(digits_run, tmp_path):
    out = tmp_path / "s.png"
    assert invoke("plot", digits_run, "samples", "-n", 8, "--out", out).exit_code == 0
    assert png_image(out.read_bytes()).shape[:2] == ((8 + 2) * 4, (8 * 9 + 1) * 4)  # one row of 8
    assert invoke("plot", digits_run, "manifold", "--grid", 4, "--out", out).exit_code == 0
    assert png_image(out.read_bytes()).shape[0] == (4 * 9 + 1) * (480 // 36)


def test_plot_interp_between_an_index_and_a_file(digits_run, tmp_path):
    digit = (np.eye(8)[None] * 255).astype(np.uint8)[0]
    Image.fromarray(digit).save(tmp_path / "diag.png")
    np.save(tmp_path / "row.npy", np.full(64, 0.5, dtype=np.float32))
    out = tmp_path / "i.png"
    for b in (tmp_path / "diag.png", tmp_path / "row.npy"):
        result = invoke("plot", digits_run, "interp", "--from", 3, "--to", b, "--steps", 4, "--out", out)
        assert result.exit_code == 0, result.output
    bad = invoke("plot", digits_run, "interp", "--from", 100000)
    assert bad.exit_code == 2 and "out of range" in bad.output


def test_plot_curves_as_svg(digits_run, tmp_path):
    out = tmp_path / "curves.svg"
    assert invoke("plot", digits_run, "curves", "--out", out).exit_code == 0
    assert ET.parse(out).getroot().tag.endswith("svg")
    bad = invoke("plot", digits_run, "samples", "--out", tmp_path / "s.svg")
    assert bad.exit_code == 2 and ".png" in bad.output


def test_plot_image_pictures_of_a_table_run_fail_with_advice(seed_run):
    result = invoke("plot", seed_run, "samples")
    assert result.exit_code == 2
    assert "needs image data" in result.output and "latents" in result.output


def test_plot_latents_of_a_table_run(seed_run, tmp_path):
    out = tmp_path / "latents.png"
    result = invoke("plot", seed_run, "latents", "--method", "tsne", "--out", out)
    assert result.exit_code == 0, result.output
    assert png_image(out.read_bytes()).std() > 5


def test_plot_report(digits_run, tmp_path):
    run = shutil.copytree(digits_run, tmp_path / "run")  # the report saves the evaluation it computes
    out = tmp_path / "r.html"
    result = invoke("plot", run, "report", "--out", out)
    assert result.exit_code == 0 and str(out) in result.output
    assert out.read_text().count("data:image/png;base64,") == 7


def test_plot_report_says_what_it_computes_and_takes_a_cheaper_k(binarized_digits_run, tmp_path):
    run = shutil.copytree(binarized_digits_run, tmp_path / "run", ignore=shutil.ignore_patterns("eval-*.json"))
    result = invoke("plot", run, "report", "--k", 10)
    assert result.exit_code == 0, result.output
    assert "no saved evaluation" in result.output and "computing the test NLL with K=10 importance samples" in result.output
    assert "<th>NLL (K=10)</th>" in (run / "report.html").read_text()
    assert (run / "eval-test-k10.json").exists()
    assert "--k" in invoke("plot", "--help").output


def test_diagram_of_the_seed_preset_goes_to_stdout():
    result = invoke("diagram", "--preset", "seed")
    assert result.exit_code == 0
    root = ET.fromstring(result.output.split("\n", 1)[1])  # after the XML declaration
    assert len([c for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "neuron"]) == 33


def test_diagram_of_a_run_defaults_to_a_file_in_the_run_folder(seed_run, tmp_path):
    seed_run = shutil.copytree(seed_run, tmp_path / "run")
    for fmt, name in (("svg", "architecture.svg"), ("tikz", "architecture.tex"), ("typst", "architecture.typ")):
        result = invoke("diagram", seed_run, "--format", fmt)
        assert result.exit_code == 0 and name in result.output
        assert (seed_run / name).stat().st_size > 1000


def test_diagram_takes_its_format_from_the_outputs_suffix(seed_run, tmp_path):
    for name, first_line in (("a.tex", "% VAE architecture"), ("a.typ", "// VAE architecture"), ("a.svg", "<?xml")):
        result = invoke("diagram", seed_run, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_text().startswith(first_line)


def test_diagram_needs_a_run_or_a_preset(seed_run):
    for args in ((), (seed_run, "--preset", "seed")):
        result = invoke("diagram", *args)
        assert result.exit_code == 2 and "--preset" in result.output


def test_import_and_help_do_not_import_matplotlib():
    code = "import sys, vaekit, vaekit.viz; from vaekit.cli import main; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_picture_drawn_while_train_force_replaces_the_run_is_not_written_into_the_new_run(digits_run, tmp_path, monkeypatch):
    import vaekit
    from vaekit.viz import plots

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    real = plots.save_picture

    def replaced_meanwhile(picture, path):
        # Another training replaces the run while this picture of the old one is being saved.
        vaekit.train(data="digits", encoder=[8], latent_dim=3, epochs=1, out=run, force=True, progress="quiet")
        real(picture, path)

    monkeypatch.setattr(plots, "save_picture", replaced_meanwhile)
    result = CliRunner().invoke(main, ["plot", str(run), "samples"])
    assert result.exit_code == 2 and "was replaced by another training while its samples picture was drawn" in result.output
    assert vaekit.load(run).latent_dim == 3 and not list(run.glob(".samples.draft-*"))
    assert not (run / "samples.png").exists()  # the old run's went with it; vaekit.train draws none


def test_a_picture_for_the_run_folder_leaves_no_draft_behind(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    assert invoke("plot", run, "recon").exit_code == 0
    assert (run / "reconstructions.png").exists() and not list(run.glob(".*draft*"))
