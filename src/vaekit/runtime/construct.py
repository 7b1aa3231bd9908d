"""Building a registered piece from its options, refusing options that it does not take.

Pieces (models, likelihoods, priors, nets, objectives) declare their options as keyword
arguments of their constructor, as timm's ``create_model`` does. An option the user gave that
the chosen piece does not take is an error naming the option, the piece and the options it does
take: never silently ignored. An option of the wrong type (``encoder: 64`` where the constructor
is annotated ``Sequence[int]``) is an error naming the option, the type its annotation asks for
and the value received, before the constructor runs. An option without a default that the
user did not give is an error naming it and how to set it.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Collection, Mapping
from typing import Any

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.typecheck import annotations_of, type_error


def keyword_parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """Return the named parameters ``factory`` (a class or function) takes, in order: its own
    and, for a class whose ``__init__`` takes ``**kwargs``, those of the base classes it passes
    them on to (each next ``__init__`` in the MRO, up to one without ``**kwargs`` or torch's)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = inspect.signature(factory).parameters
    found = {name: p for name, p in parameters.items() if p.kind not in variadic}
    passes_on = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    # A subclass that forwards **kwargs takes its base's options: they must not be refused.
    for base in factory.__mro__[1:] if isinstance(factory, type) and passes_on else ():
        if "__init__" not in vars(base):
            continue
        if base is object or base.__module__.split(".")[0] == "torch":
            break
        inherited = inspect.signature(base).parameters
        found.update({name: p for name, p in inherited.items() if p.kind not in variadic and name not in found})
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inherited.values()):
            break
    return found


def accepted_options(factory: Callable[..., Any]) -> set[str]:
    """Return the keyword names ``factory`` (a class or function) accepts (:func:`keyword_parameters`)."""
    return set(keyword_parameters(factory))


def option_defaults(factory: Callable[..., Any], exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return ``{name: default}`` of the options ``factory`` takes, leaving out ``exclude``
    (the arguments the library supplies itself) and arguments without a default."""
    return {
        name: p.default
        for name, p in keyword_parameters(factory).items()
        if name not in exclude and p.default is not inspect.Parameter.empty
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
    take; so do a signature without the ``required`` arguments and an option without a default
    that is not given. A ``ValueError`` raised by the factory (a bad value) becomes a
    ``ConfigError`` with its message; so does a ``TypeError``, with the line of the piece it
    came from, chained (``from``) so that the traceback of a bug in the piece is kept. An option
    whose value does not match the factory's annotation of it raises ``ConfigError`` naming it
    as ``KIND.OPTION`` (``kind``, e.g. ``"net"``: the path ``--set`` takes), the type and the
    value, e.g. ``net.encoder must be a list of integers or null, got 64 (int)``.
    """
    problem = signature_problem(factory, required or {})
    if problem:
        raise ConfigError(f"{what}: {problem}")
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
    missing = [name for name in options_without_default(factory) if name not in kwargs]
    if missing:
        raise ConfigError(f"{what} needs option {missing[0]!r}, which has no default: {how_to_set(missing[0], kind)}")
    try:
        return factory(**kwargs)
    except ValueError as exc:  # a bad value
        raise ConfigError(f"{what}: {exc}") from None
    except TypeError as exc:
        # The call itself was checked above, so this came from inside the piece: a value of a
        # type it cannot use, or a bug in it, whose traceback stays chained below this error.
        raise ConfigError(f"{what}: {exc} (a TypeError raised {piece_line(exc)})") from exc


def signature_problem(factory: Callable[..., Any], required: Collection[str]) -> str | None:
    """Return what is wrong with ``factory``'s signature for the ``required`` arguments the
    library always passes it (those it does not take), or None when it takes them all."""
    parameters = inspect.signature(factory).parameters
    # torch's Module.__init__ takes **kwargs only to refuse them: a module without an __init__
    # of its own takes no argument.
    init = getattr(factory, "__init__", None) if isinstance(factory, type) else factory
    inherited = getattr(init, "__module__", None) or ""
    if not inherited.startswith("torch.") and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    missing = [name for name in required if name not in accepted_options(factory)]
    if not missing:
        return None
    if isinstance(factory, type):
        owner, define = f"{factory.__qualname__}.__init__", f"def __init__(self, {', '.join(required)}, "
    else:
        owner = getattr(factory, "__qualname__", "it")
        define = f"def {getattr(factory, '__name__', 'build')}({', '.join(required)}, "
    return (
        f"{owner} takes no {' or '.join(missing)}, which vaekit passes to it: write it as "
        f"{define}<your options, each with a default>)"
    )


def options_without_default(factory: Callable[..., Any]) -> list[str]:
    """Return the names of the keyword arguments ``factory`` takes that have no default."""
    return [name for name, p in keyword_parameters(factory).items() if p.default is inspect.Parameter.empty]


def how_to_set(option: str, kind: str | None) -> str:
    """Return how a user gives ``option`` of a piece of ``kind`` (the ``--set`` path): on the
    command line and as the Python keyword (a model family's options are ``options=``)."""
    if kind is None:
        return f"pass {option}=..."
    keyword = f"options={{{option!r}: ...}}" if kind == "model" else f"{kind}={{'name': ..., {option!r}: ...}}"
    return f"set it with --set {kind}.{option}=... on the command line, or {keyword} in Python"


def piece_line(exc: BaseException) -> str:
    """Return ``"in FUNCTION at FILE:LINE"`` for the frame of the piece's own code that
    ``exc`` (caught by :func:`construct`) passed through: the one below ``construct``'s."""
    frames = traceback.extract_tb(exc.__traceback__)[1:] or traceback.extract_tb(exc.__traceback__)
    return f"in {frames[0].name} at {frames[0].filename}:{frames[0].lineno}" if frames else "by the piece"


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
