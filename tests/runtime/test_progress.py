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
