"""Every bad input we know of, in one place.

Each case is a ``vaekit`` command line that must end with a message naming the problem (the
``message`` fragment), a non-zero exit code, no traceback, and nothing lost: the finished run
folder ``{run}`` is byte for byte as it was. Add a case to the section of its kind; ``{tmp}`` is
a fresh folder holding ``z.txt`` (not latent codes), ``{run}`` a trained digits run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from vaekit.cli import main


def fingerprint(folder: Path) -> dict[str, str]:
    """Return each file of ``folder`` (recursively) with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


#: the real MNIST files (gzipped IDX), where this machine has them
# The real MNIST files beside the repository (../shared/data/mnist), as CI lays them out.
REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def write_config_and_size_files(tmp: Path) -> None:
    """Write the files the cases of configs and sizes read into ``tmp``: configs with values of
    the wrong type, a pickle and a newer vaekit's config as ``config.json``, one tiny image."""
    import pickle

    from PIL import Image

    configs = {
        "latent-two.yaml": "model:\n  latent_dim: two\n",
        "encoder-64.yaml": "model:\n  net: {name: mlp, encoder: 64}\n",
        "name-mapping.yaml": "model:\n  net: {name: {mlp: 1}}\n",
        "epochs-ten.yaml": "train:\n  epochs: ten\n",
        "lr-list.yaml": "train:\n  lr: [1]\n",
        "newer/config.json": '{"version": "99.0.0", "train": {"epochs": 2, "ema": 0.99}}',
    }
    for name, text in configs.items():
        (tmp / name).parent.mkdir(exist_ok=True)
        (tmp / name).write_text(text)
    (tmp / "pickled").mkdir()
    (tmp / "pickled" / "config.json").write_bytes(pickle.dumps({"model": {"latent_dim": 2}}))
    (tmp / "images").mkdir()
    Image.new("L", (4, 4)).save(tmp / "images" / "a.png")


def write_input_files(tmp: Path) -> None:
    """Write the files the cases of run inputs read into ``tmp``: latent codes that are empty,
    text or headed, 8-bit pixels not yet divided by 255, and images of another shape."""
    import numpy as np

    np.save(tmp / "z-empty.npy", np.zeros((0, 2), np.float32))
    (tmp / "z-empty.csv").write_text("")
    np.save(tmp / "z-text.npy", np.array([["a", "b"]]))
    (tmp / "z-header.csv").write_text("z1,z2\n0.1,0.2\n")
    np.save(tmp / "x-255.npy", np.full((3, 64), 255.0, np.float32))
    np.save(tmp / "x-4x16.npy", np.full((5, 1, 4, 16), 0.5, np.float32))


CASES = [
    # --- data, options and pieces ---
    pytest.param(["train", "--data", "nope.csv", "--out", "{tmp}/r"], "nope.csv", id="missing-data-file"),
    pytest.param(["train", "--encoder", "12,x", "--out", "{tmp}/r"], "comma-separated", id="bad-widths"),
    pytest.param(["train", "--lr", "-1", "--out", "{tmp}/r"], "lr must be > 0", id="negative-lr"),
    pytest.param(["train", "--preset", "seed", "--latent", "5", "--out", "{tmp}/r"], "fixes the architecture", id="preset-conflict"),
    pytest.param(["train", "--model", "vea", "--out", "{tmp}/r"], "unknown model 'vea' (did you mean 'vae'?); choose one of", id="unknown-model"),
    pytest.param(["train", "--set", "objective.beta=4", "--out", "{tmp}/r"], "takes no option 'beta'", id="option-of-another-piece"),
    pytest.param(["train", "--set", "beta=4", "--out", "{tmp}/r"], "expected SECTION.OPTION", id="set-without-section"),
    pytest.param(["train", "--set", "train.learning_rate=1", "--out", "{tmp}/r"], "has no option 'learning_rate'", id="set-unknown-field"),
    pytest.param(["train", "--fast", "turbo", "--out", "{tmp}/r"], "turbo", id="unknown-fast-mode"),
    pytest.param(["evaluate", "{tmp}/missing"], "does not exist", id="evaluate-missing-run"),
    pytest.param(["resume", "{tmp}"], "config.json is missing", id="resume-not-a-run"),
    pytest.param(["decode", "{run}", "--latents", "{tmp}/z.txt", "--out", "{tmp}/x.npy"], "must be .npy or .csv", id="latents-wrong-type"),
    pytest.param(["sample", "{run}", "--out", "{tmp}/s.gif"], "unsupported output type", id="sample-wrong-type"),
    pytest.param(["plot", "{run}", "histogram"], "is not one of", id="unknown-picture"),
    pytest.param(["train", "--out", "{run}", "-q"], "--force", id="used-run-folder-without-force"),
    # --- inputs to the commands that use a run ---
    pytest.param(["decode", "{run}", "--latents", "{tmp}/z-empty.npy", "--out", "{tmp}/x.npy"], "no latent codes in the file", id="latents-empty-npy"),
    pytest.param(["decode", "{run}", "--latents", "{tmp}/z-empty.csv", "--out", "{tmp}/x.npy"], "no latent codes in the file", id="latents-empty-csv"),
    pytest.param(["decode", "{run}", "--latents", "{tmp}/z-text.npy", "--out", "{tmp}/x.npy"], "save the codes as numbers", id="latents-of-text"),
    pytest.param(["decode", "{run}", "--latents", "{tmp}/z-header.csv", "--out", "{tmp}/x.npy"], "drop the header line", id="latents-csv-with-a-header"),
    pytest.param(["encode", "{run}", "--data", "{tmp}/x-255.npy", "--out", "{tmp}/z.npy"], "divide 8-bit pixels by 255", id="encode-pixels-0-to-255"),
    pytest.param(["reconstruct", "{run}", "--data", "{tmp}/x-255.npy", "--out", "{tmp}/r.npy"], "divide 8-bit pixels by 255", id="reconstruct-pixels-0-to-255"),
    pytest.param(["encode", "{run}", "--data", "{tmp}/x-4x16.npy", "--out", "{tmp}/z.npy"], "holds images of 1 channel of 4x16 pixels (height x width); this model takes 1 channel of 8x8 pixels (height x width): resize or convert them to 8x8 grey first", id="encode-images-of-another-shape"),
    pytest.param(["reconstruct", "{run}", "-n", "0", "--out", "{tmp}/r.npy"], "0 is not in the range x>=1", id="reconstruct-no-examples"),
    pytest.param(["sample", "{run}", "--temperature", "nan", "--out", "{tmp}/s.npy"], "temperature must be a finite number >= 0", id="sample-temperature-nan"),
    pytest.param(["sample", "{run}", "--temperature", "-1", "--out", "{tmp}/s.npy"], "temperature must be a finite number >= 0", id="sample-temperature-negative"),
    pytest.param(["sample", "{run}", "-n", "1000000000000", "--out", "{tmp}/s.npy"], "draw fewer at a time", id="sample-more-than-memory"),
    pytest.param(["diagram", "{run}", "--format", "tikz", "--out", "{tmp}/d.svg"], "make them agree", id="diagram-format-against-suffix"),
    pytest.param(["diagram", "{run}", "--out", "{tmp}/d.pdf"], "name a file with one of those suffixes", id="diagram-unknown-suffix"),
    pytest.param(["plot", "{run}", "report", "--out", "{tmp}/r.png"], "name a .html file", id="report-not-html"),
    pytest.param(["score", "{run}", "--data", "{tmp}/x-255.npy", "--out", "{tmp}/x-255.npy"], "is the --data file itself", id="score-over-its-own-data"),
    pytest.param(["train", "--grad-clip", "0", "--out", "{tmp}/r", "-q"], "leave --grad-clip out", id="grad-clip-zero"),
    pytest.param(["resume", "{run}", "--epochs", "3", "--grad-clip", "-1", "-q"], "grad_clip must be > 0", id="resume-with-negative-grad-clip"),
    # --- run folders: --force, locks, resume, full disks, permissions ---
    pytest.param(["train", "--model", "vea", "--out", "{run}", "--force", "-q"], "unknown model 'vea'", id="force-with-a-typo-keeps-the-run"),
    pytest.param(["train", "--data", "{tmp}/nope.csv", "--out", "{run}", "--force", "-q"], "nope.csv", id="force-with-missing-data-keeps-the-run"),
    pytest.param(["train", "--data", "{tmp}/bad.csv", "--out", "{run}", "--force", "-q"], "mixes numbers and text", id="force-with-a-bad-data-file-keeps-the-run"),
    pytest.param(["train", "--device", "cuda", "--out", "{run}", "--force", "-q"], "no CUDA GPU", id="force-without-the-device-keeps-the-run", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")),
    pytest.param(["train", "--net", "conv", "--data", "synthetic5", "--out", "{run}", "--force", "-q"], "needs images", id="force-with-a-model-that-cannot-be-built-keeps-the-run"),
    pytest.param(["train", "--model", "cvae", "--data", "synthetic5", "--out", "{run}", "--force", "-q"], "needs labelled data", id="force-with-unlabelled-data-for-cvae-keeps-the-run"),
    pytest.param(["resume", "{run}", "--epochs", "0", "-q"], "epochs must be >= 1", id="failed-resume-leaves-config-json"),
    pytest.param(["resume", "{run}", "--epochs", "1", "-q"], "trained 2 epochs already", id="resume-to-fewer-epochs-than-trained"),
    # --- configs and sizes: types, versions, memory, checksums ---
    pytest.param(["train", "--config", "{tmp}/latent-two.yaml", "--out", "{tmp}/r"], "model.latent_dim must be an integer, got 'two' (str)", id="config-latent-dim-not-an-integer"),
    pytest.param(["train", "--config", "{tmp}/encoder-64.yaml", "--out", "{tmp}/r"], "net.encoder must be a list of integers or null, got 64 (int)", id="config-widths-not-a-list"),
    pytest.param(["train", "--config", "{tmp}/name-mapping.yaml", "--out", "{tmp}/r"], "model.net.name must be a net name (a string) or null, got {'mlp': 1} (dict)", id="config-mapping-for-a-name"),
    pytest.param(["train", "--config", "{tmp}/epochs-ten.yaml", "--out", "{tmp}/r"], "train.epochs must be an integer, got 'ten' (str)", id="config-epochs-not-an-integer"),
    pytest.param(["train", "--config", "{tmp}/lr-list.yaml", "--out", "{tmp}/r"], "train.lr must be a number, got [1] (list)", id="config-lr-a-list"),
    pytest.param(["train", "--set", "train.epochs=ten", "--out", "{tmp}/r"], "train.epochs must be an integer, got 'ten' (str)", id="set-epochs-not-an-integer"),
    pytest.param(["train", "--set", "net.encoder=64", "--out", "{tmp}/r"], "net.encoder must be a list of integers or null, got 64 (int)", id="set-widths-not-a-list"),
    pytest.param(["train", "--config", "{tmp}/pickled/config.json", "--out", "{tmp}/r"], "config.json: not a text file", id="config-json-a-pickle"),
    pytest.param(["evaluate", "{tmp}/pickled"], "config.json is unreadable: not a text file", id="run-config-json-a-pickle"),
    pytest.param(["train", "--config", "{tmp}/newer/config.json", "--out", "{tmp}/r"], "written by vaekit 99.0.0, newer than this vaekit", id="config-of-a-newer-vaekit-with-new-keys"),
    pytest.param(["resume", "{tmp}/newer"], "has settings this version does not know: train.ema", id="run-of-a-newer-vaekit-with-new-keys"),
    pytest.param(["train", "--latent", "1000000000", "--out", "{tmp}/r", "-q"], "needs about", id="latent-too-large-for-memory"),
    pytest.param(["train", "--encoder", "100000000,100000000", "--out", "{tmp}/r", "-q"], "this machine has", id="widths-too-large-for-memory"),
    pytest.param(["train", "--latent", "1000000000", "--out", "{run}", "--force", "-q"], "needs about", id="force-with-a-size-that-cannot-fit-keeps-the-run"),
    pytest.param(["train", "--data", "{tmp}/images", "--image-size", "1000000x1000000x3", "--out", "{tmp}/r", "-q"], "pass a smaller --image-size", id="image-size-too-large-for-memory"),
    pytest.param(["train", "--data", "fashion-mnist", "--data-dir", str(REAL_MNIST), "--out", "{tmp}/r", "-q"], "holds MNIST files, not Fashion-MNIST", id="mnist-files-as-fashion-mnist", marks=pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not available")),
]  # fmt: skip


@pytest.mark.parametrize("args, message", CASES)
def test_bad_input_gives_a_message_a_nonzero_exit_and_loses_nothing(digits_run, tmp_path, args, message):
    (tmp_path / "z.txt").write_text("1 2\n")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n4,5\n")
    write_config_and_size_files(tmp_path)
    write_input_files(tmp_path)
    before = fingerprint(digits_run)
    inputs = fingerprint(tmp_path)
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path, run=digits_run) for a in args])
    assert result.exit_code != 0
    assert all(fingerprint(tmp_path).get(name) == digest for name, digest in inputs.items())  # no input file changed
    assert message in result.output
    assert "Traceback" not in result.output
    assert fingerprint(digits_run) == before
