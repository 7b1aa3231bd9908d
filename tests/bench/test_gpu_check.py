"""bench/gpu_check.sh, the GPU readiness check, works before a GPU session spends its minutes on it.

Without a GPU: the script parses (``bash -n``, and shellcheck where installed), its ``--dry-run``
walks every step and writes the summary table, and (slow) ``--cpu-smoke`` runs the same steps on
the CPU with tiny sizes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.sh"
STEPS = ("setup", "tests", "paper", "train-fp32", "train-bf16", "train-fp16", "nll", "ddp")


def check(args: list[str], out: Path, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out)}
    if "--dry-run" in args:
        # A dry run only looks for MNIST's file names, so a clone without ../shared shows every step too.
        env["VAEKIT_BENCH_MNIST"] = str(_named_like_mnist(out / "mnist-names"))
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _named_like_mnist(folder: Path) -> Path:
    """A folder holding an empty file under MNIST's training-images name (what a dry run checks)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train-images-idx3-ubyte").touch()
    return folder


def summary_rows(out: Path) -> dict[str, list[str]]:
    """The summary table the script wrote to $OUT: step -> [status, key figure, seconds]."""
    rows = {}
    for line in (out / "gpu_check_summary.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in STEPS:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True).returncode == 0


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)")
def test_shellcheck_finds_nothing():
    out = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_a_dry_run_shows_every_steps_commands_and_writes_the_table(tmp_path):
    done = check(["--dry-run"], tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert "-m pytest -m cuda" in text and "tests/test_cuda.py" in text
    for precision in ("fp32", "bf16", "fp16"):
        assert f"bench.train_speed --device cuda --precision {precision}" in text
    assert "bench.nll_speed --device cuda" in text and "--square 8192" in text
    assert "bench.paper_table --rows lvae5,iwae2-k50 --budget 30 --points 1" in text and "--device cuda" in text
    assert "torch.distributed.run --standalone --nproc-per-node 2 -m vaekit train" in text
    assert "resume" in text and "--nproc 2" in text
    rows = summary_rows(tmp_path)
    assert list(rows) == list(STEPS)
    assert all(rows[s][0] == "DRY" for s in STEPS if s != "ddp")
    assert rows["ddp"][0] == "SKIP" and "2 CUDA GPUs" in rows["ddp"][1]  # this machine has none
    assert (tmp_path / "gpu_check.log").read_text().count("=== ") == len(STEPS)


def test_a_cpu_smoke_dry_run_skips_fp16_and_sizes_down(tmp_path):
    done = check(["--dry-run", "--cpu-smoke"], tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--device cpu" in done.stdout and "--limit 1200" in done.stdout
    rows = summary_rows(tmp_path)
    assert rows["train-fp16"][0] == "SKIP" and "needs CUDA" in rows["train-fp16"][1]


def test_a_step_cut_by_the_budget_fails_the_check(tmp_path):
    # Each step needs at least 10 s of the budget, less 5 s kept in hand: 12 s run none of them.
    done = check(["--dry-run", "--budget", "12"], tmp_path, timeout=60)
    assert done.returncode == 1
    rows = summary_rows(tmp_path)
    assert all(rows[s][0] == "FAIL" and "no time left" in rows[s][1] for s in STEPS), rows
    assert "FAILED: " + " ".join(STEPS) in (tmp_path / "gpu_check_summary.md").read_text()


@pytest.mark.slow
def test_the_cpu_smoke_run_passes(tmp_path):
    # About 45 s on 2 idle cores (MNIST from ../shared/data/mnist, pythae from .venv-bench where
    # it is there): the same steps as on a GPU, with tiny sizes.
    done = check(["--cpu-smoke"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    rows = summary_rows(tmp_path)
    assert [rows[s][0] for s in STEPS] == ["PASS", "PASS", "PASS", "PASS", "PASS", "SKIP", "PASS", "SKIP"], rows
    assert rows["paper"][1].startswith("on cpu: vae1-k1 ") and "its 3280 epochs in" in rows["paper"][1]
    assert "s/epoch: vaekit" in rows["train-fp32"][1] and "% of the float32 square's" in rows["nll"][1]
