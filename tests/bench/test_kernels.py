"""bench.kernels' pieces that need no timing: the paper steps' models and ``ab``'s checks (run as
subprocesses from the repository root, as the scripts are)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BUILD_PAPER_MODELS = """
import json
from bench.kernels import PAPER_MODEL_KEYS, PAPER_OBJECTIVE_KEYS, paper_config
from vaekit.training.build import build_model
built = {}
for m, model_label in PAPER_MODEL_KEYS.items():
    for o, objective_label in PAPER_OBJECTIVE_KEYS.items():
        config = paper_config(model_label, objective_label)
        model = build_model(config)
        built[f"{m}:{o}"] = [type(model).__name__, config.value_range, config.model.net["activation"], config.model.objective["name"]]
print(json.dumps(built))
"""


def test_paper_config_builds_every_model_and_objective_that_ab_paper_names():
    result = subprocess.run([sys.executable, "-c", BUILD_PAPER_MODELS], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    built = json.loads(result.stdout)
    assert set(built) == {f"{m}:{o}" for m in ("one-layer", "two-layers") for o in ("elbo", "iwae-k5", "iwae-k50")}
    assert built["two-layers:iwae-k50"] == ["HierarchicalGaussianVAE", "binary", "tanh", "iwae"]
    assert built["one-layer:elbo"][1:] == ["binary", "tanh", "elbo"]


def test_ab_refuses_an_unknown_paper_step_naming_the_choices(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.kernels", "ab", str(tmp_path), "--paper", "three-layers:elbo"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "one-layer, two-layers" in result.stderr and "iwae-k50" in result.stderr and "three-layers" in result.stderr


def test_ab_compares_a_tree_with_itself_only_with_other_settings():
    same = subprocess.run([sys.executable, "-m", "bench.kernels", "ab", str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert same.returncode == 1 and "same folder" in same.stderr and "--precision" in same.stderr
    unknown = subprocess.run([sys.executable, "-m", "bench.kernels", "ab", str(ROOT), "--precision", "bf8"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert unknown.returncode == 1 and "bf16-grad" in unknown.stderr and "'bf8'" in unknown.stderr


def test_ab_checks_the_other_sides_precision_and_takes_paper_or_run_not_both(tmp_path):
    unknown = subprocess.run([sys.executable, "-m", "bench.kernels", "ab", str(ROOT), "--other-precision", "bf8"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert unknown.returncode == 1 and "--other-precision" in unknown.stderr and "'bf8'" in unknown.stderr
    both = subprocess.run([sys.executable, "-m", "bench.kernels", "ab", str(ROOT), "--min-backward-weight", "1e-4",
                           "--paper", "two-layers:iwae-k50", "--run", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert both.returncode == 1 and "--paper or --run, not both" in both.stderr
    no_run = subprocess.run([sys.executable, "-m", "bench.kernels", "ab", str(ROOT), "--min-backward-weight", "1e-4",
                             "--run", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert no_run.returncode == 1 and "no run folder" in no_run.stderr
