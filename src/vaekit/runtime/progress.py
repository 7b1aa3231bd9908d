"""Progress display: a tqdm bar on a terminal, plain log lines in CI or when piped."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


def is_interactive(stream: TextIO = sys.stderr) -> bool:
    """Return True when ``stream`` is a terminal and we are not in CI."""
    return stream.isatty() and not os.environ.get("CI")


class Progress:
    """Shows per-batch progress with a bar (interactive) and one line per epoch (always,
    unless ``quiet``). Writes to stderr so that stdout stays clean for data."""

    def __init__(self, total_epochs: int, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total_epochs = total_epochs
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
                parts.append(f"{key}={record[key]:.4f}")
        parts.append(f"examples/s={record['examples_per_s']:.0f}")
        print("  ".join(parts), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """Print a free-form line (unless quiet)."""
        if self.mode != "quiet":
            print(text, file=self.stream, flush=True)
