"""Output paths a command cannot use (a file where a folder must be, a folder where a file must
be) give one line and exit code 2 from every command that writes, not a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vaekit.cli import main
from vaekit.runtime.errors import ConfigError


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


# An output never replaces what the command or its run reads: the command's own --data (or
# --latents), the run's training data (a file, or anything inside an image folder) and the
# files of the run folder that the run needs. Each is refused before the run is loaded.


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """A run trained from its own folder on ``table.csv``, named relatively as a user would; the
    folder also holds ``other.csv`` (rows of the same table) and ``z.csv`` (latent codes)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("table-data")
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"size": rng.normal(10, 2, 40).round(2), "kind": rng.choice(["a", "b"], 40)})
    rows.to_csv(folder / "table.csv", index=False)
    rows.head(8).to_csv(folder / "other.csv", index=False)
    np.savetxt(folder / "z.csv", np.zeros((3, 2)), delimiter=",")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = invoke("train", "--data", "table.csv", "--epochs", "1", "--encoder", "8", "--latent", "2", "-q", "--out", "run")
    assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    """A run trained on the image folder ``imgs`` (24 grey 8x8 pictures) next to it."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("image-data")
    (folder / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(folder / "imgs" / f"i{i:03d}.png")
    result = invoke("train", "--data", folder / "imgs", "--epochs", "1", "--encoder", "8", "--latent", "2", "-q", "--out", folder / "run")
    assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.fixture
def in_table_folder(table_run, monkeypatch) -> Path:
    """The folder the table run was trained from, as the current folder; the run is not loaded
    by a refused command (``api.load`` fails the test)."""
    from vaekit import api

    monkeypatch.chdir(table_run.parent)
    monkeypatch.setattr(api, "load", lambda *a, **k: pytest.fail("the run was loaded before --out was refused"))
    return table_run.parent


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file below ``folder`` (relative name -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TRAINING_DATA = "is this run's training data file itself: writing there would replace the data the run was trained on; name another file"


@pytest.mark.parametrize("spelling", ["table.csv", "./table.csv", "run/../table.csv", "{folder}/table.csv", "link.csv"])
def test_sample_refuses_the_table_runs_training_data_however_it_is_spelled(in_table_folder, spelling):
    folder = in_table_folder
    (folder / "link.csv").unlink(missing_ok=True)
    (folder / "link.csv").symlink_to(folder / "table.csv")
    before = snapshot(folder)
    out = spelling.format(folder=folder)
    line = one_error_line(invoke("sample", "run", "-n", "100", "--out", out))
    assert line == f"error: --out {out} {TRAINING_DATA}"
    assert snapshot(folder) == before


COMMANDS_OVER_AN_INPUT = {
    "reconstruct-training-data": (["reconstruct", "run", "--out", "table.csv"], f"--out table.csv {TRAINING_DATA}"),
    "reconstruct-own-data": (["reconstruct", "run", "--data", "other.csv", "--out", "./other.csv"], "is the --data file itself"),
    "encode-training-data": (["encode", "run", "--out", "table.csv"], f"--out table.csv {TRAINING_DATA}"),
    "encode-own-data": (["encode", "run", "--data", "other.csv", "--out", "other.csv"], "is the --data file itself"),
    "decode-training-data": (["decode", "run", "--latents", "z.csv", "--out", "table.csv"], f"--out table.csv {TRAINING_DATA}"),
    "decode-own-latents": (["decode", "run", "--latents", "z.csv", "--out", "z.csv"], "--out z.csv is the --latents file itself"),
    "impute-training-data": (["impute", "run", "--data", "other.csv", "--out", "table.csv"], f"--out table.csv {TRAINING_DATA}"),
    "score-training-data": (["score", "run", "--data", "other.csv", "--out", "table.csv"], f"--out table.csv {TRAINING_DATA}"),
}


@pytest.mark.parametrize("args, message", COMMANDS_OVER_AN_INPUT.values(), ids=COMMANDS_OVER_AN_INPUT.keys())
def test_a_command_refuses_to_write_over_its_input_or_the_runs_training_data(in_table_folder, args, message):
    before = snapshot(in_table_folder)
    assert message in one_error_line(invoke(*args))
    assert snapshot(in_table_folder) == before


RUN_FILES = ["config.json", "model.safetensors", "model-best.safetensors", "trainer.safetensors", "trainer.json", "metrics.jsonl", "schema.json"]


@pytest.mark.parametrize("command", ["sample", "reconstruct", "encode", "decode", "plot"])
@pytest.mark.parametrize("name", RUN_FILES)
def test_a_command_refuses_to_write_over_a_file_the_run_needs(in_table_folder, command, name):
    args = {"decode": ["--latents", "z.csv"], "plot": ["curves"]}.get(command, [])
    before = snapshot(in_table_folder)
    line = one_error_line(invoke(command, "run", *args, "--out", f"run/{name}"))
    assert line == f"error: --out run/{name} is this run's own {name}: writing there would break the run; name a file outside the run folder, or another name in it"
    assert snapshot(in_table_folder) == before


IMAGE_FOLDER_COMMANDS = {
    "sample": ["sample", "{run}", "-n", "4", "--out", "{imgs}/x.png"],
    "sample-over-an-image": ["sample", "{run}", "-n", "4", "--out", "{imgs}/i000.png"],
    "sample-below": ["sample", "{run}", "-n", "4", "--out", "{imgs}/sub/x.npy"],
    "reconstruct": ["reconstruct", "{run}", "-n", "4", "--out", "{imgs}/r.png"],
    "encode": ["encode", "{run}", "--out", "{imgs}/z.npy"],
    "plot": ["plot", "{run}", "samples", "-n", "4", "--out", "{imgs}/s.png"],
    "diagram": ["diagram", "{run}", "--out", "{imgs}/a.svg"],
}


@pytest.mark.parametrize("args", IMAGE_FOLDER_COMMANDS.values(), ids=IMAGE_FOLDER_COMMANDS.keys())
def test_a_command_refuses_to_write_inside_the_runs_training_image_folder(image_run, args):
    imgs = image_run.parent / "imgs"
    before = snapshot(imgs)
    out = args[-1].format(imgs=imgs)
    line = one_error_line(invoke(*(a.format(run=image_run, imgs=imgs) for a in args)))
    assert line == (
        f"error: --out {out} is inside this run's training data folder {imgs}: writing there would change the data "
        "the run was trained on; name a file outside that folder"
    )
    assert snapshot(imgs) == before


def test_a_folder_linked_to_the_training_images_is_inside_them(image_run, tmp_path):
    imgs = image_run.parent / "imgs"
    (tmp_path / "alias").symlink_to(imgs)
    line = one_error_line(invoke("sample", image_run, "-n", "4", "--out", tmp_path / "alias" / "x.png"))
    assert f"is inside this run's training data folder {imgs}" in line
    assert not (imgs / "x.png").exists()


def test_reconstruct_refuses_to_write_inside_its_data_folder(image_run, tmp_path):
    data = Path(shutil.copytree(image_run.parent / "imgs", tmp_path / "more"))
    line = one_error_line(invoke("reconstruct", image_run, "--data", data, "--out", data / "r.png"))
    assert f"is inside the --data folder {data}: writing there would change your data" in line
    assert not (data / "r.png").exists()


def test_an_ordinary_output_is_still_replaced(table_run, monkeypatch):
    monkeypatch.chdir(table_run.parent)
    Path("synthetic.csv").write_text("old\n")
    result = invoke("sample", "run", "-n", "5", "--out", "synthetic.csv")
    assert result.exit_code == 0, result.output
    assert Path("synthetic.csv").read_text().count("\n") == 6


def test_sample_from_another_folder_refuses_the_table_runs_training_data(table_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run recorded where it read its relatively named table
    training = table_run.parent / "table.csv"
    before = training.read_bytes()
    line = one_error_line(invoke("sample", table_run, "-n", "100", "--out", training))
    assert line == f"error: --out {training} {TRAINING_DATA}"
    assert training.read_bytes() == before


@pytest.fixture
def beside_a_digits_folder(tmp_path, monkeypatch) -> Path:
    """A current folder holding a folder named ``digits``, as a user's own data might be."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    return tmp_path / "digits"


BUNDLED_NAME_COMMANDS = {
    "sample": ["sample", "{run}", "-n", "4", "--out", "digits/s.png"],
    "encode-its-data": ["encode", "{run}", "--data", "digits", "--out", "digits/z.npy"],
    "reconstruct-its-data": ["reconstruct", "{run}", "--data", "digits", "-n", "4", "--out", "digits/r.png"],
}


@pytest.mark.parametrize("args", BUNDLED_NAME_COMMANDS.values(), ids=BUNDLED_NAME_COMMANDS.keys())
def test_a_folder_named_like_the_bundled_dataset_is_not_the_training_data(digits_run, beside_a_digits_folder, args):
    # The run, and --data digits, read the bundled dataset: the folder ./digits is only an output folder.
    result = invoke(*(a.format(run=digits_run) for a in args))
    assert result.exit_code == 0, result.output
    assert (beside_a_digits_folder.parent / args[-1]).is_file()


def test_the_folder_itself_given_as_data_is_still_refused(digits_run, beside_a_digits_folder):
    line = one_error_line(invoke("encode", digits_run, "--data", "./digits", "--out", "digits/z.npy"))
    assert "is inside the --data folder digits: writing there would change your data" in line


def test_a_bundled_datasets_record_pointing_at_a_same_named_folder_is_not_the_training_data(tmp_path, monkeypatch):
    from vaekit.cli.options import refuse_writing_over_inputs

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    run = tmp_path / "run"
    run.mkdir()
    # What a run trained on --data digits --shuffle blocks beside a folder ./digits records.
    record = {"path": "digits", "format": "dataset", "read_from": str(tmp_path / "digits")}
    (run / "config.json").write_text(json.dumps({"data": {"name": "digits"}, "data_file": record}))
    refuse_writing_over_inputs("digits/s.png", run_dir=run)
    # A run that read the folder (named ./digits) keeps it as its training data.
    record = {"path": "./digits", "format": "image-folder", "read_from": str(tmp_path / "digits")}
    (run / "config.json").write_text(json.dumps({"data": {"name": "./digits"}, "data_file": record}))
    with pytest.raises(ConfigError, match="inside this run's training data folder"):
        refuse_writing_over_inputs("digits/s.png", run_dir=run)
