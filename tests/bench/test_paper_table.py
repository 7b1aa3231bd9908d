"""bench.paper_table's rows spell models and objectives that ``vaekit train`` accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Read in a child: in this process "bench" names the tests' package of that name.
ROWS = json.loads(subprocess.run(
    [sys.executable, "-c", "import json; from bench.paper_table import ROWS, PAPER_EPOCHS; print(json.dumps("
     "{'epochs': PAPER_EPOCHS, 'rows': [[r.name, r.objective, r.layers, r.theirs, r.train_options()] for r in ROWS]}))"],
    cwd=ROOT, capture_output=True, text=True, check=True,
).stdout)  # fmt: skip


def test_the_table_has_burdas_twelve_mnist_rows() -> None:
    rows = ROWS["rows"]
    assert len({name for name, *_ in rows}) == 12
    assert {theirs for name, _, _, theirs, _ in rows if name in ("vae1-k1", "iwae2-k50")} == {86.76, 82.90}
    assert ROWS["epochs"] == sum(3**i for i in range(8))


@pytest.mark.parametrize("name", ["vae1-k5", "iwae2-k5"])
def test_a_rows_options_train(tmp_path: Path, name: str) -> None:
    _, objective, layers, _, options = next(row for row in ROWS["rows"] if row[0] == name)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "vaekit", "train", "--data", "digits", "--binarize", "dynamic", "--epochs", "1",
               "--batch-size", "20", "--lr-schedule", "burda", "--adam-eps", "1e-4", *options,
               "--out", str(run), "-q"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["objective"]["name"] == ("iwae" if objective == "iwae" else "elbo-k")
    assert config["model"]["name"] == ("hvae" if layers == 2 else "vae")
