"""The grey levels a run's data had, which other data given to the run must share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaekit.data.digits import DIGITS_LEVELS
from vaekit.data.units import MAX_UINT8_LEVELS
from vaekit.runtime.errors import DataError

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


def check_grey_levels(levels: int, run_levels: int | None, what: str = "uint8 examples") -> None:
    """Raise ``DataError`` when examples of ``levels`` grey levels are not of the run's
    ``run_levels`` (None: any number fits, as for a run that binarises its data): the model's
    likelihood and the pixel values it was trained on are those of ``run_levels``."""
    if run_levels is not None and levels != run_levels:
        read_as = "8-bit pixels (0..255)" if levels == MAX_UINT8_LEVELS else f"{levels} grey levels (0..{levels - 1})"
        kind = "8-bit pixels" if levels == MAX_UINT8_LEVELS else f"{levels} grey levels"
        raise DataError(
            f"{what} are read as {read_as}, but this run's data had {run_levels} grey levels "
            f"(0..{run_levels - 1}); give floats in [0, 1] instead (x / {run_levels - 1} if they are the run's "
            f"levels, x / {levels - 1} if they are {kind})"
        )
