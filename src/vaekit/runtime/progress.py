"""Progress display: a tqdm bar on a terminal, plain log lines in CI or when piped."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from vaekit.runtime.errors import ConfigError


def is_interactive(stream: TextIO = sys.stderr) -> bool:
    """Return True when ``stream`` is a terminal and we are not in CI."""
    return stream.isatty() and not os.environ.get("CI")


#: how progress is shown: a bar on a terminal and lines elsewhere, a bar, plain lines, or nothing
MODES = ("auto", "bar", "lines", "quiet")


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of ``MODES``; ``ConfigError`` naming them otherwise."""
    if mode not in MODES:
        raise ConfigError(f"progress must be one of {', '.join(MODES)}, got {mode!r} (quiet shows nothing)")
    return mode


class Progress:
    """Shows per-batch progress with a bar (interactive) and one line per epoch (always,
    unless ``quiet``). Writes to stderr so that stdout stays clean for data."""

    def __init__(
        self, total_epochs: int, mode: str = "auto", stream: TextIO | None = None, names: dict[str, str] | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.total_epochs = total_epochs
        #: what the epoch line calls a metric of the record, where not by its key
        self.names = dict(names or {})
        check_mode(mode)
        self.mode = ("bar" if is_interactive(self.stream) else "lines") if mode == "auto" else mode
        self._bar: Any = None

    @property
    def shows_bar(self) -> bool:
        """True when a progress bar is drawn (a terminal, not CI)."""
        return self.mode == "bar"

    def batches(self, epoch: int, batches: Iterable[Any], total: int) -> Iterator[Any]:
        """Wrap the batch iterator of one epoch."""
        if self.mode != "bar":
            yield from batches
            return
        from tqdm import tqdm

        with tqdm(
            batches,
            total=total,
            desc=f"epoch {epoch}/{self.total_epochs}",
            file=self.stream,
            leave=False,
            dynamic_ncols=True,
        ) as bar:
            self._bar = bar
            yield from bar
        self._bar = None

    def batch_metrics(self, **metrics: float) -> None:
        """Show running metrics on the bar (no-op without a bar)."""
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=True)

    def epoch_end(self, record: dict[str, Any]) -> None:
        """Print the epoch's summary line."""
        if self.mode == "quiet":
            return
        parts = [f"epoch {record['epoch']}/{self.total_epochs}"]
        for key in ("train_loss", "train_elbo", "train_kl", "val_loss"):
            if record.get(key) is not None:
                parts.append(f"{self.names.get(key, key)}={record[key]:.4f}")
        parts.append(f"examples/s={record['examples_per_s']:.0f}")
        print("  ".join(parts), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """Print a free-form line (unless quiet)."""
        if self.mode != "quiet":
            print(text, file=self.stream, flush=True)


class ProgressLines:
    """Progress of a long computation as plain lines on stderr (for logs, pipes and CI): one
    line per tenth of the work, with the time so far; with an unknown ``total`` (None), one line
    every ``UNKNOWN_TOTAL_SECONDS``. Has tqdm's ``update``/``close``."""

    #: seconds between lines when the total is not known
    UNKNOWN_TOTAL_SECONDS = 10.0

    def __init__(self, total: int | None, description: str, unit: str = "", stream: TextIO | None = None) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.stream = stream or sys.stderr
        self.done, self.shown = 0, 0
        self.started = time.perf_counter()

    def update(self, n: int) -> None:
        """Count ``n`` more units done; print a line when another tenth is complete."""
        self.done += n
        if self.total is None:
            elapsed = time.perf_counter() - self.started
            if elapsed >= (self.shown + 1) * self.UNKNOWN_TOTAL_SECONDS:
                self.shown = int(elapsed // self.UNKNOWN_TOTAL_SECONDS)
                unit = f" {self.unit}" if self.unit else ""
                print(f"{self.description}: {self.done}{unit}, {elapsed:.0f} s", file=self.stream, flush=True)
            return
        tenth = 10 * self.done // max(self.total, 1)
        if tenth > self.shown:
            self.shown = tenth
            elapsed = time.perf_counter() - self.started
            unit = f" {self.unit}" if self.unit else ""
            print(
                f"{self.description}: {self.done}/{self.total}{unit} ({10 * tenth}%), {elapsed:.0f} s",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        """Nothing to close: each line is complete when printed."""


def work_progress(total: int | None, mode: str, description: str, unit: str = "") -> Any:
    """Return the progress display of a computation of ``total`` units (None: not known in
    advance, e.g. the rows of a CSV file read in chunks): ``"quiet"`` none,
    ``"lines"`` plain lines, ``"bar"`` a tqdm bar, ``"auto"`` a bar on a terminal and plain lines
    in CI or when piped (as :class:`Progress` does for training)."""
    if check_mode(mode) == "quiet":
        return None
    if mode == "lines" or (mode == "auto" and not is_interactive()):
        return ProgressLines(total, description, unit)
    from tqdm import tqdm

    return tqdm(total=total, desc=description, file=sys.stderr, leave=False, dynamic_ncols=True, unit=unit or "it")
