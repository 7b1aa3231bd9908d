"""A data file's format by its suffix, looking through a compression suffix."""

from __future__ import annotations

from pathlib import Path

#: compression suffixes pandas reads transparently after .csv / .tsv
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def table_suffix(path: Path) -> str:
    """Return a file's format suffix, lower case, looking through a compression suffix
    (``.csv.gz``: ``.csv``); ``""`` for a name without one."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def compression_suffix(path: Path) -> str:
    """Return a file's compression suffix (``.gz`` of ``.csv.gz``), or ``""``."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in COMPRESSED else ""
