"""The Python in the docs runs as written: every ```python block of README.md, docs/evaluation.md
and docs/pictures.md is executed here (docs/extending.md's in test_docs_extending.py), in order,
in a folder holding the runs it names, with fewer epochs and importance samples so the test
stays fast. A block that is only an excerpt is fenced ```python no-run and is not executed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import vaekit

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
#: the files whose python blocks are executed by a test (this module or test_docs_extending.py)
TESTED = {"README.md", "docs/evaluation.md", "docs/pictures.md", "docs/extending.md"}


def python_blocks(name: str) -> list[str]:
    return RUNNABLE.findall((ROOT / name).read_text())


def run_blocks(name: str, cheaper: dict[str, str]) -> dict:
    """Execute the python blocks of ``name`` in order (in the current folder) with each key of
    ``cheaper`` replaced by its value; each key must occur, so the test follows the docs."""
    code = "\n".join(python_blocks(name))
    for costly, cheap in cheaper.items():
        assert costly in code, f"{name} no longer says {costly!r}: update this test"
        code = code.replace(costly, cheap)
    namespace: dict = {}
    exec(compile(code, str(ROOT / name), "exec"), namespace)
    return namespace


def test_every_python_block_of_the_docs_is_run_by_a_test():
    found = {
        str(path.relative_to(ROOT))
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        if python_blocks(str(path.relative_to(ROOT)))
    }
    assert found == TESTED


def test_readme_python_api(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_blocks("README.md", {"epochs=20": "epochs=1", "k=5000": "k=5"})
    assert ns["report"]["k"] == 5 and "nll" in ns["report"] and "bpd" in ns["report"]
    assert ns["z"].shape == (len(ns["x"]), 8)
    assert (tmp_path / "runs/digits/samples.png").exists()
    for run in ("binary", "b", "v"):
        assert (tmp_path / "runs" / run / "model.safetensors").exists()


def test_evaluation_doc(binarized_digits_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(binarized_digits_run, tmp_path / "runs/mnist")  # a tiny stand-in for MNIST
    ns = run_blocks("docs/evaluation.md", {"k=5000": "k=5"})
    assert (tmp_path / "runs/mnist/eval-test-k5.json").exists()  # save=True
    assert ns["bounds"].shape == (360,)
    assert ns["nll"] == pytest.approx(vaekit.evaluate("runs/mnist", k=5, probe=False)["nll"], abs=1e-9)


def test_pictures_doc(binarized_digits_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # latent_dim 2, binarised digits, without the evaluations other tests saved in the shared run
    shutil.copytree(binarized_digits_run, tmp_path / "runs/digits", ignore=shutil.ignore_patterns("eval-*.json"))
    vaekit.train(
        model="cvae", data="digits", encoder=[16], latent_dim=2, epochs=1, batch_size=256,
        out=tmp_path / "runs/cvae", progress="quiet",
    )  # fmt: skip
    ns = run_blocks("docs/pictures.md", {})
    assert (tmp_path / "runs/digits/report.html").exists()
    assert (tmp_path / "runs/digits/eval-test-k5000.json").exists()  # the report's own evaluation, saved
    assert ns["png"].startswith(b"\x89PNG")
    assert ns["svg"].lstrip().startswith("<?xml")
