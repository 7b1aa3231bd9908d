"""Progress modes: a bar, plain lines or nothing; an unknown mode is refused, not guessed."""

from __future__ import annotations

import io

import pytest

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.progress import MODES, Progress, work_progress


@pytest.mark.parametrize("mode", ["off", "silent", ""])
def test_an_unknown_mode_is_refused_naming_the_modes(mode):
    with pytest.raises(ConfigError, match="quiet"):
        Progress(3, mode=mode, stream=io.StringIO())
    with pytest.raises(ConfigError, match="auto, bar, lines, quiet"):
        work_progress(3, mode, "work")


def test_quiet_writes_nothing():
    stream = io.StringIO()
    progress = Progress(2, mode="quiet", stream=stream)
    progress.message("hello")
    assert stream.getvalue() == "" and "quiet" in MODES


def test_progress_lines_of_an_unknown_total_print_every_few_seconds(monkeypatch):
    import io

    from vaekit.runtime import progress

    clock = iter([0.0, 3.0, 11.0, 12.0, 25.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    lines = progress.ProgressLines(None, "scoring", "examples", stream=out)
    for _ in range(4):
        lines.update(100)
    assert out.getvalue().splitlines() == ["scoring: 200 examples, 11 s", "scoring: 400 examples, 25 s"]


def test_the_epoch_line_calls_a_metric_by_the_name_it_is_given():
    import io

    from vaekit.runtime.progress import Progress

    out = io.StringIO()
    record = {"epoch": 1, "train_loss": 2.0, "train_elbo": -2.0, "train_kl": 0.5, "examples_per_s": 10.0}
    Progress(3, mode="lines", stream=out, names={"train_elbo": "train_recon-kl"}).epoch_end(record)
    assert "train_recon-kl=-2.0000" in out.getvalue() and "train_elbo" not in out.getvalue()
