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
from click.testing import CliRunner

from vaekit.cli import main


def fingerprint(folder: Path) -> dict[str, str]:
    """Return each file of ``folder`` (recursively) with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


CASES = [
    # --- data, options and pieces ---
    pytest.param(["train", "--data", "nope.csv", "--out", "{tmp}/r"], "nope.csv", id="missing-data-file"),
    pytest.param(["train", "--encoder", "12,x", "--out", "{tmp}/r"], "comma-separated", id="bad-widths"),
    pytest.param(["train", "--lr", "-1", "--out", "{tmp}/r"], "lr must be > 0", id="negative-lr"),
    pytest.param(["train", "--preset", "seed", "--latent", "5", "--out", "{tmp}/r"], "fixes the architecture", id="preset-conflict"),
    pytest.param(["train", "--model", "vea", "--out", "{tmp}/r"], "unknown model 'vea'; choose one of", id="unknown-model"),
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
    # --- run folders: --force, locks, resume, full disks, permissions ---
    # --- configs and sizes: types, versions, memory, checksums ---
]  # fmt: skip


@pytest.mark.parametrize("args, message", CASES)
def test_bad_input_gives_a_message_a_nonzero_exit_and_loses_nothing(digits_run, tmp_path, args, message):
    (tmp_path / "z.txt").write_text("1 2\n")
    before = fingerprint(digits_run)
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path, run=digits_run) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert fingerprint(digits_run) == before
