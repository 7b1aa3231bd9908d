"""The grey levels a run's data had, which other data given to the run must share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaekit.data.digits import DIGITS_LEVELS

if TYPE_CHECKING:
    from vaekit.config import RunConfig


def run_grey_levels(cfg: RunConfig) -> int | None:
    """Return the number of grey levels of the data the run ``cfg`` was trained on, which other
    grey-level data must share (the bundled digits: 17), or None where any number fits: a run
    that binarises its data, or one whose data have no grey levels."""
    if cfg.data.binarize != "none":
        return None
    return trained_grey_levels(cfg)


def trained_grey_levels(cfg: RunConfig) -> int | None:
    """Return the number of grey levels of the run ``cfg``'s training data as read (before any
    binarisation), or None for data without grey levels."""
    return DIGITS_LEVELS if cfg.data.name == "digits" else cfg.levels
