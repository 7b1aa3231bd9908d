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
TESTED = {"README.md", "docs/evaluation.md", "docs/pictures.md", "docs/extending.md", "docs/tables.md", "docs/scores.md"}


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


def penguin_like(n: int = 120):
    """A table with penguins.csv's columns (the real file is not part of a clean clone)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], size=n)
    frame = pd.DataFrame(
        {
            "species": species,
            "island": np.where(species == "Gentoo", "Biscoe", rng.choice(["Biscoe", "Dream", "Torgersen"], size=n)),
            "bill_length_mm": np.round(rng.normal(44, 5, n), 1),
            "bill_depth_mm": np.round(rng.normal(17, 2, n), 1),
            "flipper_length_mm": rng.integers(172, 231, n).astype(float),
            "body_mass_g": rng.integers(2700, 6300, n).astype(float),
            "sex": rng.choice(["female", "male"], size=n).astype(object),
            "year": rng.choice([2007, 2008, 2009], size=n),
        }
    )
    frame.loc[[3, 40], "bill_length_mm"] = np.nan
    frame.loc[[5, 9, 77], "sex"] = None
    return frame


def test_tables_doc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    penguin_like().to_csv(tmp_path / "penguins.csv", index=False)
    ns = run_blocks(
        "docs/tables.md",
        {"epochs=300": "epochs=3", "../shared/data/tables/penguins.csv": "penguins.csv", "draws=5": "draws=2"},
    )
    assert list(ns["synthetic"].columns) == list(ns["frame"].columns) and len(ns["synthetic"]) == 1000
    assert (ns["biscoe"]["island"] == "Biscoe").all()
    assert not ns["filled"][["bill_length_mm", "sex"]].isna().any().any() and len(ns["draws"]) == 2
    assert ns["latents"].shape == (len(ns["frame"]), 8) and ns["log_p"].shape == (20,)


def test_scores_doc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_blocks("docs/scores.md", {"epochs=5": "epochs=1", "k=100": "k=5"})
    assert ns["scores"].shape == (len(ns["x"]),) and (ns["scores"] > 0).all()
    assert ns["parts"].maps().shape == (5, 1, 8, 8)
    detector = ns["detector"]
    assert abs(detector.labels_.mean() - 0.05) < 0.02
    assert (detector.score_samples(ns["x"].numpy()[:3]) == -detector.decision_function(ns["x"].numpy()[:3])).all()

