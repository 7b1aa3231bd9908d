"""Checking plain values against type hints, with messages that name the key, the expected type
and the value received.

One checker serves the run config (its dataclasses' type hints) and every registered piece (its
constructor's annotations, see :mod:`vaekit.runtime.construct`). It understands the hints that
config values take: ``int``, ``float``, ``str``, ``bool``, ``None``, unions (``int | None``),
``list[int]``, ``Sequence[int]``, ``tuple[int, ...]``, ``dict[str, Any]``, ``Literal[...]``
and ``Any``. A hint it does not understand (a class such as ``nn.Module``, a callable) accepts
any value: the constructor's own checks apply.
"""

from __future__ import annotations

import collections.abc
import numbers
import types
import typing
from typing import Any

NoneType = type(None)
#: the longest ``repr`` of a received value a message shows
MAX_SHOWN = 60

_SINGULAR = {bool: "true or false", int: "an integer", float: "a number", str: "a string", NoneType: "null"}
_PLURAL = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _element(hint: Any) -> Any:
    """Return the element hint of a sequence hint (``Any`` when not given)."""
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return args[0] if len(set(args)) == 1 else Any


def matches(value: Any, hint: Any) -> bool:
    """Return True when ``value`` is of type ``hint``. An integer counts as a number (``float``)
    but a boolean counts as neither; a string is not a list."""
    if hint is Any:
        return True
    if hint is NoneType or hint is None:
        return value is None
    if _is_union(hint):
        return any(matches(value, a) for a in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(hint)
        if origin is tuple and args and Ellipsis not in args:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
        element = _element(hint)
        return all(matches(v, element) for v in value)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        if not isinstance(value, collections.abc.Mapping):
            return False
        args = typing.get_args(hint)
        if len(args) == 2:
            return all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
        return True
    return True  # a hint this checker does not understand: the constructor checks


def describe(hint: Any) -> str:
    """Return ``hint`` in words: ``an integer``, ``a list of integers``, ``a string or null``."""
    if hint is Any:
        return "any value"
    if hint in _SINGULAR:
        return _SINGULAR[hint]
    if hint is None:
        return "null"
    if _is_union(hint):
        args = typing.get_args(hint)
        words = [describe(a) for a in args if a is not NoneType]
        if NoneType in args:
            words.append("null")
        return " or ".join(dict.fromkeys(words))
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in _SEQUENCES or hint in _SEQUENCES:
        element = _element(hint)
        if element is Any:
            return "a list"
        inner = describe(element)
        # list[list[int]]: "a list of lists of integers", not "a list of a list of integers"
        plural = _PLURAL.get(element) or (f"lists{inner[len('a list'):]}" if inner.startswith("a list") else inner)
        return f"a list of {plural}"
    if origin in _MAPPINGS or hint in _MAPPINGS:
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def shown(value: Any) -> str:
    """Return ``value`` as a message shows it: its ``repr`` (shortened) and its type,
    e.g. ``'two' (str)``."""
    text = repr(value)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return f"{text} ({type(value).__name__})"


def type_error(key: str, value: Any, hint: Any, expected: str | None = None) -> str | None:
    """Return the message ``"KEY must be EXPECTED, got VALUE (TYPE)"`` when ``value`` is not of
    type ``hint``, else None. ``expected`` replaces the words for the hint."""
    if matches(value, hint):
        return None
    message = f"{key} must be {expected or describe(hint)}, got {shown(value)}"
    if not isinstance(value, str) and matches([value], hint):
        message += f": a list of one is written [{value!r}]" if not isinstance(value, list) else f": write [{value!r}]"
    return message


def annotations_of(factory: Any) -> dict[str, Any]:
    """Return the resolved type hints of ``factory``'s parameters (a class: its ``__init__``);
    an empty dict when they cannot be resolved (a name only imported for type checkers)."""
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to check against
        return {}
    hints.pop("return", None)
    return hints
