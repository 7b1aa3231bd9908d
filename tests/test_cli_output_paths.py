"""Output paths a command cannot use (a file where a folder must be, a folder where a file must
be) give one line and exit code 2 from every command that writes, not a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vaekit.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run(digits_run, tmp_path_factory) -> Path:
    """A copy of the shared digits run (`plot report` saves an evaluation into it)."""
    return Path(shutil.copytree(digits_run, tmp_path_factory.mktemp("paths") / "run"))


@pytest.fixture
def afile(tmp_path) -> Path:
    """A regular file, named as a folder of the output path."""
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


def one_error_line(result) -> str:
    """Return the command's error line, after checking it exited with code 2 and that the line
    is its last and only one (`plot report` says what it computes first)."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], result.stderr
    assert "Traceback" not in result.output
    return lines[-1]


COMMANDS = {
    "sample": ["sample", "{run}", "--out", "{afile}/x.png"],
    "sample-deeper": ["sample", "{run}", "-n", "4", "--out", "{afile}/sub/x.npy"],
    "encode": ["encode", "{run}", "--out", "{afile}/z.npy"],
    "reconstruct": ["reconstruct", "{run}", "-n", "4", "--out", "{afile}/r.png"],
    "decode": ["decode", "{run}", "--latents", "{latents}", "--out", "{afile}/d.csv"],
    "plot-curves": ["plot", "{run}", "curves", "--out", "{afile}/c.png"],
    "plot-samples": ["plot", "{run}", "samples", "-n", "4", "--out", "{afile}/s.png"],
    "plot-report": ["plot", "{run}", "report", "--k", "0", "--out", "{afile}/r.html"],
    "diagram": ["diagram", "{run}", "--out", "{afile}/x.svg"],
    "train": ["train", "--data", "digits", "--epochs", "1", "--encoder", "8", "--latent", "2", "-q", "--out", "{afile}/sub"],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_output_below_a_file_is_named_in_one_line(run, afile, tmp_path, args):
    latents = tmp_path / "z.npy"
    np.save(latents, np.zeros((2, 2), dtype=np.float32))
    result = invoke(*(a.format(run=run, afile=afile, latents=latents) for a in args))
    line = one_error_line(result)
    assert f"{afile} is a file, not a folder; write it somewhere else" in line
    assert afile.read_text() == "not a folder"


def test_resume_names_a_folder_where_the_lock_file_must_be(run, tmp_path):
    copy = Path(shutil.copytree(run, tmp_path / "run"))
    (copy / ".vaekit.lock").mkdir()
    line = one_error_line(invoke("resume", copy, "--epochs", "3", "-q"))
    assert ".vaekit.lock: a folder of that name is in the way; move that folder away" in line


def test_plot_refuses_an_output_through_a_file_before_the_reports_evaluation(tmp_path, digits_run):
    run = shutil.copytree(digits_run, tmp_path / "run")
    for saved in run.glob("eval-*.json"):
        saved.unlink()
    (tmp_path / "afile").write_text("")
    result = CliRunner().invoke(main, ["plot", str(run), "report", "--out", str(tmp_path / "afile" / "r.html")])
    assert result.exit_code == 2 and "afile is a file, not a folder" in result.output
    assert not list(run.glob("eval-*.json"))  # refused before evaluating the run for the report
