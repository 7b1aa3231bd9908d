"""Building a registered piece from its options, refusing options that it does not take.

Pieces (models, likelihoods, priors, nets, objectives) declare their options as keyword
arguments of their constructor, as timm's ``create_model`` does. An option the user gave that
the chosen piece does not take is an error naming the option, the piece and the options it does
take: never silently ignored. An option of the wrong type (``encoder: 64`` where the constructor
is annotated ``Sequence[int]``) is an error naming the option, the type its annotation asks for
and the value received, before the constructor runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.typecheck import annotations_of, type_error


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
    kind: str | None = None,
) -> Any:
    """Call ``factory`` with the ``required`` arguments, the user's ``options`` and those of the
    ``derived`` values (facts about the data or other parts) that it accepts; return the result.

    An option that ``factory`` does not take raises ``ConfigError`` naming the options it does
    take; so does a ``ValueError`` or ``TypeError`` raised by the factory for a bad value. An
    option whose value does not match the factory's annotation of it raises ``ConfigError``
    naming it as ``KIND.OPTION`` (``kind``, e.g. ``"net"``: the path ``--set`` takes), the type
    and the value, e.g. ``net.encoder must be a list of integers or null, got 64 (int)``.
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
    check_option_types(factory, what, options or {}, kind)
    for name, value in (derived or {}).items():
        if name in names:
            kwargs[name] = value
    try:
        return factory(**kwargs)
    except ValueError as exc:  # a bad value; a TypeError here is a bug in the piece, shown as one
        raise ConfigError(f"{what}: {exc}") from None


def check_option_types(factory: Callable[..., Any], what: str, options: Mapping[str, Any], kind: str | None) -> None:
    """Raise ``ConfigError`` for the first of the user's ``options`` whose value does not match
    ``factory``'s annotation of it (annotations it cannot resolve or check are skipped; the
    parameter's own default always passes)."""
    hints = annotations_of(factory)
    parameters = inspect.signature(factory).parameters
    for name, value in options.items():
        if name not in hints or (name in parameters and value is parameters[name].default):
            continue
        message = type_error(f"{kind}.{name}" if kind else name, value, hints[name])
        if message:
            raise ConfigError(f"{what}: {message}")
