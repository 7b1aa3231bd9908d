"""`make demo` as written in the Makefile (with 1 epoch and K = 20 to stay fast): its model has a
likelihood that is exact for its data, so the report it ends with shows an NLL and bits/dim."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from vaekit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def demo_commands() -> list[list[str]]:
    """Return the ``vaekit`` commands of the Makefile's ``demo`` recipe, as argument lists."""
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.M)
    assert recipe, "the Makefile has no demo target"
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    return [shlex.split(line.removeprefix("$(BIN)/vaekit")) for line in lines if line.startswith("$(BIN)/vaekit ")]


def test_the_demo_reports_an_nll_and_bits_per_dim(tmp_path):
    run = tmp_path / "demo"
    commands = demo_commands()
    assert [c[0] for c in commands] == ["train", "evaluate", "diagram", "plot"]
    for args in commands:
        args = [str(run) if a == "$(DEMO_DIR)" else a for a in args]
        args += {"train": ["--epochs", "1", "-q"], "evaluate": ["--k", "20", "-q"]}.get(args[0], [])
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        if args[0] == "evaluate":
            assert "NLL (K=20)" in result.output and "bits/dim" in result.output
            assert "not a likelihood" not in result.output
    page = (run / "report.html").read_text()
    metrics = page[page.index("<h2>Metrics</h2>") : page.index('<h2 id="curves">')]
    assert "<th>NLL (K=20)</th>" in metrics and "<th>bits/dim</th>" in metrics
    assert "not a likelihood" not in metrics
