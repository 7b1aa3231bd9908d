"""Every benchmark script answers ``--help`` (cheap: nothing heavy runs), so none rots unseen.

The scripts are found in bench/ (every module with a ``__main__`` guard), so a new one is
covered without editing this file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def bench_scripts() -> list[str]:
    """Return the names of the modules in bench/ that run as scripts."""
    return sorted(
        path.stem
        for path in BENCH.glob("*.py")
        if not path.stem.startswith("_") and 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
    )


def test_bench_has_scripts():
    assert len(bench_scripts()) >= 5, bench_scripts()


@pytest.mark.parametrize("name", bench_scripts())
def test_help_runs_and_names_the_script(name: str):
    out = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    usage = out.stdout.lstrip().splitlines()[0]
    assert usage.startswith("usage:") and f"bench.{name}" in usage, out.stdout[:300]


def test_importing_the_scripts_stays_light():
    """``--help`` stays cheap only while the scripts import torch, vaekit and the peers (pythae)
    inside the functions that use them; bench/common.py is imported by every script."""
    names = ["common", *bench_scripts()]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module('bench.' + name)\n"
        "print(' '.join(m for m in ('torch', 'numpy', 'vaekit', 'pythae') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [], f"importing bench/ loaded {out.stdout.strip()}"
