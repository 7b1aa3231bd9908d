"""One registry type for every kind of named piece: models, nets, likelihoods, priors,
objectives, pictures.

A registry maps names to factories (classes or functions). Each piece registers itself with
one decorator line, takes its own options as keyword arguments, and is built by
:meth:`Registry.build`, which refuses options the piece does not take. Help text and
command-line choices are read from the registries, so they never go stale.

A piece that cannot work is refused when it registers, not when it is first built: a class
that does not subclass its kind's base class, or whose constructor does not take the
arguments the library supplies.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from vaekit.runtime.construct import construct, option_defaults, signature_problem
from vaekit.runtime.errors import ConfigError, VaekitWarning
from vaekit.runtime.names import did_you_mean

T = TypeVar("T")

#: the run folder whose recorded config is being built, while :func:`loading_run` is active
_LOADING_RUN: ContextVar[str | None] = ContextVar("vaekit_loading_run", default=None)


@contextlib.contextmanager
def loading_run(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Within this context, pieces are built from the names the run in ``run_dir`` recorded:
    a name no piece is registered under is one the run's own process had registered, and
    :meth:`Registry.get_factory` says to import the module that registers it (a run folder
    stores names, options and weights, never code)."""
    token = _LOADING_RUN.set(os.fspath(run_dir))
    try:
        yield
    finally:
        _LOADING_RUN.reset(token)


class UnregisteredPieceError(ConfigError):
    """A run folder names a piece (``kind``, ``name``) that no module imported in this process
    has registered (raised within :func:`loading_run`)."""

    def __init__(self, message: str, kind: str, name: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


def qualified_name(factory: Any) -> str:
    """Return ``"module.QualifiedName"`` of a class or function (``repr`` of anything else)."""
    qualname = getattr(factory, "__qualname__", None)
    return f"{getattr(factory, '__module__', '?')}.{qualname}" if qualname else repr(factory)


def _moved_from_main(taken: Any, factory: Any) -> bool:
    """True when ``factory`` is the piece ``taken`` moved out of ``__main__``: ``taken`` was
    defined in a notebook cell or script and ``factory``, of the same qualified name, in a
    module (the cell's code moved to a file and imported), so it may replace it."""
    return (
        getattr(taken, "__module__", None) == "__main__"
        and getattr(factory, "__module__", None) != "__main__"
        and getattr(taken, "__qualname__", None) == getattr(factory, "__qualname__", None)
    )


def _restart_hint(taken: Any) -> str:
    """Return how to free a name that a class defined in ``__main__`` holds (nothing for others)."""
    if getattr(taken, "__module__", None) != "__main__":
        return ""
    return "; a class defined in a notebook or script holds its name until the kernel or interpreter restarts"


class Registry(dict[str, T], Generic[T]):
    """A ``dict`` of ``name -> factory`` for one ``kind`` of piece (e.g. ``"likelihood"``).

    ``supplied`` names the constructor arguments the library fills in itself (sizes, facts
    about the data, other parts); every other keyword argument is a user option. ``required``
    are those of them that every piece's constructor must take (the library always passes
    them), and ``base`` the class (``"module:Class"``, named as users import it) that every
    piece must subclass: both are checked when a piece registers. ``name_attribute`` is the
    class attribute that :meth:`register` sets to the name; ``decorator`` the name users call
    :meth:`register` by (``register_<kind>`` unless given), for messages. A kind's own checks
    are ``check_piece(name, factory)``, run when a piece registers (raising ``ConfigError``),
    and ``check_built(name, piece, required)``, run on each piece :meth:`build` makes (raising
    ``ConfigError``, returning the piece to use).
    """

    def __init__(
        self,
        kind: str,
        *,
        supplied: tuple[str, ...] = (),
        name_attribute: str | None = "name",
        required: tuple[str, ...] = (),
        base: str | None = None,
        decorator: str | None = None,
        check_piece: Callable[[str, Any], None] | None = None,
        check_built: Callable[[str, Any, Mapping[str, Any]], Any] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.supplied = frozenset(supplied)
        self.name_attribute = name_attribute
        self.required = required
        self.base = base
        self.decorator = decorator or f"register_{kind}"
        self.check_piece = check_piece
        self.check_built = check_built

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding a factory under ``name``: ``@register_likelihood("laplace")``.

        A name that is not a non-empty string (the decorator written without its name) and a
        piece that cannot be built (see :meth:`check`) raise ``ConfigError``. A second piece
        under a taken name does too, unless it has the same module and qualified name as the
        first (a module or notebook cell run again replaces its own piece), or the same
        qualified name and the first came from ``__main__`` (a notebook cell's class moved to a
        module replaces it, with a ``VaekitWarning``)."""
        if not isinstance(name, str) or not name:
            given = repr(name)
            if callable(name) and hasattr(name, "__name__"):  # the decorator written without (name)
                given = f"{'class' if isinstance(name, type) else 'function'} {name.__name__}"
            raise ConfigError(
                f"{self.decorator} takes the {self.kind}'s name, got {given}: write "
                f'@{self.decorator}("name") above the {"class" if self.name_attribute else "function"}, '
                f'e.g. @{self.decorator}("my-{self.kind}")'
            )

        def add(factory: T) -> T:
            self.check(name, factory)
            taken = self.get(name)
            if taken is not None and _moved_from_main(taken, factory):
                warnings.warn(
                    f"{self.kind} {name!r}: {qualified_name(factory)} replaces {qualified_name(taken)}, registered "
                    f"earlier from __main__ (a notebook cell or script); pieces already built keep the earlier class",
                    VaekitWarning,
                    stacklevel=2,
                )
            elif taken is not None and qualified_name(taken) != qualified_name(factory):
                raise ConfigError(
                    f"{self.kind} name {name!r} is already registered by {qualified_name(taken)}; "
                    f"register {qualified_name(factory)} under another name (a name stands for one "
                    f"piece in configs and run folders){_restart_hint(taken)}"
                )
            if self.name_attribute and isinstance(factory, type):
                setattr(factory, self.name_attribute, name)
            self[name] = factory
            return factory

        return add

    def check(self, name: str, factory: Any) -> None:
        """Raise ``ConfigError`` when ``factory`` cannot be a piece of this kind: not a subclass
        of ``base``, a constructor that does not take the ``required`` arguments, or what the
        kind's own ``check_piece`` refuses."""
        what = f"{self.kind} {name!r}"
        if self.base is not None:
            module, _, cls = self.base.partition(":")
            ancestors = getattr(factory, "__mro__", ())
            # By name, not by identity: the base class registers itself under this registry,
            # before its module has finished importing.
            if not any(c.__name__ == cls and f"{c.__module__}.".startswith(f"{module}.") for c in ancestors):
                raise ConfigError(
                    f"{what}: {qualified_name(factory)} does not subclass vaekit's {cls}: a {self.kind} is a "
                    f"subclass of {cls} (from {module} import {cls}; class "
                    f"{getattr(factory, '__name__', 'MyPiece')}({cls}): ...), see docs/extending.md"
                )
        if self.required and callable(factory):
            problem = signature_problem(factory, self.required)
            if problem:
                raise ConfigError(f"{what}: {problem}")
        if self.check_piece is not None:
            self.check_piece(name, factory)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self)

    def get_factory(self, name: str) -> T:
        """Return the factory registered as ``name``; an unknown name raises ``ConfigError``
        listing the known ones (and, within :func:`loading_run`, saying to import the module
        that registers the run's piece)."""
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self.names())
            run = _LOADING_RUN.get()
            if run is not None:
                raise UnregisteredPieceError(
                    f"the run in {run} uses a {self.kind} named {name!r}, which is not registered in this "
                    f"process: import the module that registers it first (e.g. `import my_pieces` before "
                    f"`vaekit.load(...)`; on the command line, run vaekit from a script that imports it: "
                    f'python -c "import my_pieces; from vaekit.cli import main; main()" evaluate RUN, '
                    f"see docs/extending.md); the {self.kind}s registered here are {known}",
                    self.kind,
                    name,
                ) from None
            meant = did_you_mean(name, self.names()) if isinstance(name, str) else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{meant}; choose one of {known}") from None

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
        ``derived`` values it accepts (see :func:`vaekit.runtime.construct.construct`), checked by
        the kind's ``check_built``. An option that this piece does not take but others of its kind
        do raises ``ConfigError`` naming them."""
        factory = self.get_factory(name)
        what = what or f"{self.kind} {name!r}"
        try:
            piece = construct(
                factory,  # type: ignore[arg-type]
                what,
                required=required,
                options=options,
                derived=derived,
                kind=self.kind,
            )
        except ConfigError as exc:
            hint = self._other_pieces_hint(name, options or {})
            if hint and str(exc).startswith(f"{what} takes no option"):
                raise ConfigError(f"{exc}. {hint}") from None
            raise
        return piece if self.check_built is None else self.check_built(name, piece, required or {})

    def _other_pieces_hint(self, name: str, options: Mapping[str, Any]) -> str | None:
        """Return which other pieces of this kind take an option of ``options`` that piece
        ``name`` does not, and how to choose one; None when none do."""
        taken = set(self.options(name))
        for option in options:
            others = [other for other in self.names() if other != name and option in self.options(other)]
            if option not in taken and others:
                return (
                    f"{option!r} is an option of {self.kind} {' and '.join(repr(o) for o in others)}: choose one "
                    f"with --{self.kind} {others[0]} (--set {self.kind}.name={others[0]}; {self.kind}='{others[0]}' "
                    "in Python)"
                )
        return None

    def describe(self) -> list[str]:
        """Return one line per piece: its name and its options with their defaults."""
        lines = []
        for name in self.names():
            opts = ", ".join(f"{k}={v!r}" for k, v in self.options(name).items())
            lines.append(f"{name}({opts})" if opts else name)
        return lines
