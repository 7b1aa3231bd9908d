"""What the Makefile installs for the explorer: `make demo` the serve extra that `vaekit serve`
needs next, `make test` (CI's default run, through .ci/run) Playwright and chromium for the
explorer's real-browser test, which is not marked slow. Read with `make -n` (nothing runs)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """Return the commands `make TARGET` would run from scratch (a venv that does not exist yet)."""
    # --no-print-directory: under another make (CI's `make test`) make would add its own
    # "Entering/Leaving directory" lines, which are not commands.
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.splitlines()


def first(lines: list[str], fragment: str) -> int:
    found = [i for i, line in enumerate(lines) if fragment in line]
    assert found, f"no command containing {fragment!r} in:\n" + "\n".join(lines)
    return found[0]


def test_make_demo_installs_the_serve_extra_before_training(tmp_path):
    lines = dry_run("demo", tmp_path)
    assert first(lines, "install --quiet -e \".[serve]\"") < first(lines, "vaekit train")
    assert "vaekit serve" in lines[-1]


def test_make_test_installs_playwright_and_chromium_before_the_tests(tmp_path):
    lines = dry_run("test", tmp_path)
    tests = first(lines, "-m pytest")
    assert first(lines, '-e ".[dev,browser]"') < tests
    assert first(lines, "apt-get install -y -qq chromium") < tests


def test_ci_runs_make_test_and_the_browser_test_is_in_the_default_run():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    # The default run deselects only tests marked slow; the browser test carries no such mark.
    assert "-m 'not slow'" in (ROOT / "pyproject.toml").read_text()
    spec = importlib.util.spec_from_file_location("browser_test", ROOT / "tests" / "serve" / "test_browser.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests
    module_marks = getattr(module, "pytestmark", [])  # one mark or a list of them
    marks = [*(module_marks if isinstance(module_marks, list) else [module_marks])]
    marks += [m for t in tests for m in getattr(t, "pytestmark", [])]
    assert "slow" not in {m.name for m in marks}
