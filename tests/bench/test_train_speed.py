"""bench.train_speed's summary: each contestant's s/epoch, and without the first epoch's start-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path(os.environ.get("VAEKIT_BENCH_MNIST", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.mark.slow
@pytest.mark.skipif(not list(MNIST.glob("train-images-idx3-ubyte*")), reason=f"no MNIST in {MNIST}")
def test_the_summary_gives_the_epochs_after_the_first_where_they_are_timed():
    done = subprocess.run(
        [sys.executable, "-m", "bench.train_speed", "--rounds", "1", "--epochs", "3", "--limit", "512", "--only", "vaekit,plain"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (summary,) = [line for line in done.stdout.splitlines() if line.startswith("summary: ")]
    assert re.fullmatch(r"summary: cpu fp32, s/epoch: vaekit \S+, plain \S+ \(\S+x vaekit's\); "
                        r"after the first epoch: vaekit \S+, plain \S+", summary), summary  # fmt: skip
    rounds = [line for line in done.stderr.splitlines() if line.startswith("round 1 ")]
    assert len(rounds) == 2 and all("'later_s_per_epoch': " in line for line in rounds)
