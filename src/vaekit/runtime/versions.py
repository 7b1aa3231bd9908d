"""Comparing vaekit version strings (``0.1.0``, ``0.2.0rc1``, ``1.0.dev3``) without extra packages."""

from __future__ import annotations

import re

_RELEASE = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


def release_tuple(version: str) -> tuple[int, ...] | None:
    """Return the numeric release part of ``version`` (``"0.2.0rc1"`` -> ``(0, 2)``, trailing
    zeros dropped), or None when it does not start with a number."""
    match = _RELEASE.match(str(version))
    if match is None:
        return None
    parts = [int(p) for p in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def is_newer(version: str, than: str) -> bool:
    """Return True when the release of ``version`` is later than that of ``than`` (pre-release
    and local suffixes are ignored; an unreadable version counts as not newer)."""
    a, b = release_tuple(version), release_tuple(than)
    return a is not None and b is not None and a > b
