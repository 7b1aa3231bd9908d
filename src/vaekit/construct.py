"""Building a registered piece from config options, refusing options that do not apply to it.

Pieces (likelihoods, priors, nets, objectives) declare their options as keyword arguments of
their constructor. An option the user set (not ``None``) that the chosen piece does not take
is an error naming the option and the piece, never silently ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from vaekit.runtime.errors import ConfigError


def accepted_options(factory: Callable[..., Any]) -> set[str]:
    """Return the keyword names ``factory`` (a class or function) accepts."""
    return set(inspect.signature(factory).parameters)


def construct(
    factory: Callable[..., Any],
    what: str,
    *,
    required: dict[str, Any] | None = None,
    user: dict[str, tuple[str, Any]] | None = None,
    derived: dict[str, Any] | None = None,
) -> Any:
    """Call ``factory`` with ``required`` arguments, the set ``user`` options it accepts and
    the ``derived`` values (facts about the data) it accepts.

    ``user`` maps argument names to ``(option flag, value)``; a value that is not ``None`` but
    not accepted raises ``ConfigError``; so does a ``ValueError`` from the factory.
    """
    names = accepted_options(factory)
    kwargs = dict(required or {})
    for name, (flag, value) in (user or {}).items():
        if value is None:
            continue
        if name not in names:
            raise ConfigError(f"{flag} does not apply to {what}; drop it")
        kwargs[name] = value
    for name, value in (derived or {}).items():
        if name in names:
            kwargs[name] = value
    try:
        return factory(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None
