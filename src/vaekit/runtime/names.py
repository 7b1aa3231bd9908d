"""Guessing the name a user meant from a misspelt one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest_names(value: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` of ``names`` that ``value`` most likely misspells: close by spelling
    (difflib's ratio >= 0.6), else a name that begins ``value`` or that ``value`` begins (at
    least 3 characters in common, e.g. ``reconstructions`` for ``recon``), best first."""
    names = sorted(set(names))
    close = difflib.get_close_matches(value, names, n=n)
    if close:
        return close
    low = value.lower()
    prefixed = [name for name in names if min(len(low), len(name)) >= 3 and (low.startswith(name.lower()) or name.lower().startswith(low))]
    return prefixed[:n]


def did_you_mean(value: str, names: Iterable[str]) -> str:
    """Return `` (did you mean 'a' or 'b'?)`` for the names ``value`` most likely misspells, or
    an empty string when none is close."""
    close = closest_names(value, names)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
