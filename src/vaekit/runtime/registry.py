"""One registry type for every kind of named piece: models, nets, likelihoods, priors,
objectives, pictures.

A registry maps names to factories (classes or functions). Each piece registers itself with
one decorator line, takes its own options as keyword arguments, and is built by
:meth:`Registry.build`, which refuses options the piece does not take. Help text and
command-line choices are read from the registries, so they never go stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from vaekit.runtime.construct import construct, option_defaults
from vaekit.runtime.errors import ConfigError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """A ``dict`` of ``name -> factory`` for one ``kind`` of piece (e.g. ``"likelihood"``).

    ``supplied`` names the constructor arguments the library fills in itself (sizes, facts
    about the data, other parts); every other keyword argument is a user option.
    ``name_attribute`` is the class attribute that :meth:`register` sets to the name.
    """

    def __init__(self, kind: str, *, supplied: tuple[str, ...] = (), name_attribute: str | None = "name") -> None:
        super().__init__()
        self.kind = kind
        self.supplied = frozenset(supplied)
        self.name_attribute = name_attribute

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding a factory under ``name``; a second piece under one name is an error."""

        def add(factory: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} name {name!r} is already registered by {self[name]!r}")
            if self.name_attribute and isinstance(factory, type):
                setattr(factory, self.name_attribute, name)
            self[name] = factory
            return factory

        return add

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self)

    def get_factory(self, name: str) -> T:
        """Return the factory registered as ``name``; an unknown name raises ``ConfigError``
        listing the known ones."""
        try:
            return self[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}") from None

    def options(self, name: str) -> dict[str, Any]:
        """Return the user options of piece ``name`` with their defaults."""
        return option_defaults(self.get_factory(name), self.supplied)  # type: ignore[arg-type]

    def build(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        required: Mapping[str, Any] | None = None,
        derived: Mapping[str, Any] | None = None,
        what: str | None = None,
    ) -> Any:
        """Build piece ``name`` with the user's ``options``, the ``required`` arguments and the
        ``derived`` values it accepts (see :func:`vaekit.runtime.construct.construct`)."""
        factory = self.get_factory(name)
        return construct(
            factory,  # type: ignore[arg-type]
            what or f"{self.kind} {name!r}",
            required=required,
            options=options,
            derived=derived,
            kind=self.kind,
        )

    def describe(self) -> list[str]:
        """Return one line per piece: its name and its options with their defaults."""
        lines = []
        for name in self.names():
            opts = ", ".join(f"{k}={v!r}" for k, v in self.options(name).items())
            lines.append(f"{name}({opts})" if opts else name)
        return lines
