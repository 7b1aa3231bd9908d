"""Building a registered piece from its options, refusing options that it does not take.

Pieces (models, likelihoods, priors, nets, objectives) declare their options as keyword
arguments of their constructor, as timm's ``create_model`` does. An option the user gave that
the chosen piece does not take is an error naming the option, the piece and the options it does
take: never silently ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from vaekit.runtime.errors import ConfigError


def accepted_options(factory: Callable[..., Any]) -> set[str]:
    """Return the keyword names ``factory`` (a class or function) accepts."""
    return {
        name
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def option_defaults(factory: Callable[..., Any], exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return ``{name: default}`` of the options ``factory`` takes, leaving out ``exclude``
    (the arguments the library supplies itself) and arguments without a default."""
    return {
        name: p.default
        for name, p in inspect.signature(factory).parameters.items()
        if name not in exclude
        and p.default is not inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def construct(
    factory: Callable[..., Any],
    what: str,
    *,
    required: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    derived: Mapping[str, Any] | None = None,
) -> Any:
    """Call ``factory`` with the ``required`` arguments, the user's ``options`` and those of the
    ``derived`` values (facts about the data or other parts) that it accepts; return the result.

    An option that ``factory`` does not take raises ``ConfigError`` naming the options it does
    take; so does a ``ValueError`` or ``TypeError`` raised by the factory for a bad value.
    """
    names = accepted_options(factory)
    supplied = set(required or {}) | set(derived or {})
    kwargs = dict(required or {})
    for name, value in (options or {}).items():
        if name not in names or name in supplied:
            takes = sorted(names - supplied)
            listing = ", ".join(takes) if takes else "none"
            raise ConfigError(f"{what} takes no option {name!r}; its options are: {listing}")
        kwargs[name] = value
    for name, value in (derived or {}).items():
        if name in names:
            kwargs[name] = value
    try:
        return factory(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what}: {exc}") from None
