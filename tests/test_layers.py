"""The layer rules of DESIGN.md ("Layers"), checked on every import statement under src/vaekit.

Why: each floor may be read, tested and changed knowing only the floors below it. An arrow that
runs up a floor (a model reading the run config, the API drawing pictures) or sideways between two
rooms of one floor ties parts together that the design keeps apart, and such arrows grow into
import cycles. A piece that several floors need belongs on the lowest floor that needs it
(``runtime/`` is the ground floor for that reason), not on the floor of its first user.

The rules:

- a module may import any room on a lower floor, and its own room;
- it may not import a room on a higher floor (upward) or another room of its own floor
  (sideways), except the sideways arrows listed in ``SIDEWAYS``;
- ``vaekit.config`` (the run config: plain dataclasses) reaches down to floor 0 only, so that the
  config never depends on the pieces it configures (``REACH``).

No module may import itself through others, within a room too. Imports inside functions count
(a lazy import is still an arrow); imports under ``if TYPE_CHECKING:`` do not (they never run).
Every module must live in a room of ``ROOMS``, so a new top-level module has to be given a floor
here (or, better, a place in a room: building pieces from options went to ``runtime/construct.py``,
writing example arrays to files to ``viz/examples.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# floor, room, the modules it holds (a name covers its submodules; the bare package name
# "vaekit" means only vaekit/__init__.py, whose lazy attributes are the API).
ROOMS: list[tuple[int, str, tuple[str, ...]]] = [
    (0, "runtime", ("vaekit.runtime", "vaekit._version")),
    (1, "nets", ("vaekit.nets",)),
    (1, "distributions", ("vaekit.distributions",)),
    (2, "data", ("vaekit.data",)),
    (2, "models", ("vaekit.models",)),
    (3, "objectives", ("vaekit.objectives",)),
    (3, "config", ("vaekit.config",)),
    (4, "fast", ("vaekit.fast",)),
    (4, "training", ("vaekit.training",)),
    (4, "evaluation", ("vaekit.evaluation",)),
    (5, "api", ("vaekit.api", "vaekit.summary", "vaekit.tables", "vaekit.scoring", "vaekit.detector", "vaekit")),
    (6, "viz", ("vaekit.viz",)),
    (6, "serve", ("vaekit.serve",)),
    (7, "cli", ("vaekit.cli", "vaekit.__main__")),
]

# The sideways arrows DESIGN.md names: (importing room, imported room).
SIDEWAYS = {
    ("training", "fast"),  # the loop asks fast/ for a fused step
    ("evaluation", "fast"),  # the NLL asks fast/ for a fused chunk
    ("serve", "viz"),  # the explorer serves viz's image grids
}

# Rooms that may reach down only to this floor (default: every floor below their own).
REACH = {"config": 0}


@dataclass(frozen=True)
class Room:
    floor: int
    name: str


def room_of(module: str) -> Room | None:
    """Return the room holding ``module`` (the longest matching name in ``ROOMS``), or None."""
    best: tuple[int, Room] | None = None
    for floor, name, modules in ROOMS:
        for prefix in modules:
            exact_only = prefix == "vaekit"
            if module == prefix or (not exact_only and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), Room(floor, name))
    return best[1] if best else None


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST):
    """Yield every node under ``node``, skipping the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _statements(other)
            continue
        yield child
        yield from _statements(child)


def imports_of(path: Path, src: Path) -> list[tuple[int, str]]:
    """Return ``(line, module)`` for each vaekit module that ``path`` imports.

    ``from package import name`` counts as importing ``package.name`` when that is a module,
    else ``package``; relative imports are resolved against the file's package."""
    module = module_name(path, src)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.append((node.lineno, target if _is_module(target, src) else base))
    return sorted({(line, name) for line, name in found if name == "vaekit" or name.startswith("vaekit.")})


def _is_module(name: str, src: Path) -> bool:
    path = src.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(src: Path = SRC) -> list[str]:
    """Return one line per import that breaks the rules, naming file, module and both floors."""
    found = []
    for path in sorted((src / "vaekit").rglob("*.py")):
        where = f"src/{path.relative_to(src).as_posix()}"
        here = room_of(module_name(path, src))
        if here is None:
            found.append(f"{where}: not in any room; give it a floor in tests/test_layers.py ROOMS")
            continue
        for line, target in imports_of(path, src):
            there = room_of(target)
            if there is None:
                found.append(f"{where}:{line} imports {target}, which is not in any room")
            elif there.name == here.name:
                continue
            elif there.floor > REACH.get(here.name, here.floor):
                direction = "up" if there.floor > here.floor else "down past its reach"
                found.append(
                    f"{where}:{line} imports {target}: {direction} from floor {here.floor} ({here.name}) "
                    f"to floor {there.floor} ({there.name})"
                )
            elif there.floor == here.floor and (here.name, there.name) not in SIDEWAYS:
                found.append(
                    f"{where}:{line} imports {target}: sideways on floor {here.floor}, from {here.name} to {there.name}"
                )
    return found


def test_every_import_runs_down_the_floors():
    found = violations()
    assert not found, f"{len(found)} import(s) break the layer rules of DESIGN.md:\n" + "\n".join(found)


def import_cycles(src: Path = SRC) -> list[list[str]]:
    """Return the import cycles between modules (lazy imports included), each as a list of
    module names that ends where it starts."""
    graph = {module_name(p, src): {m for _, m in imports_of(p, src)} for p in (src / "vaekit").rglob("*.py")}
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(path[path.index(module) :] + [module])
            return
        if module in done or module not in graph:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return cycles


def test_no_module_imports_itself_through_others():
    # Within a room too: a cycle means neither module can be understood (or imported) alone.
    cycles = [" -> ".join(cycle) for cycle in import_cycles()]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_sees_lazy_relative_and_from_imports_and_skips_type_checking(tmp_path):
    for package in ("vaekit", "vaekit/models", "vaekit/runtime", "vaekit/viz", "vaekit/serve"):
        write(tmp_path, f"{package}/__init__.py")
    write(tmp_path, "vaekit/config.py", "from vaekit.runtime import errors\n")
    write(tmp_path, "vaekit/runtime/errors.py")
    write(tmp_path, "vaekit/serve/app.py", "from vaekit.viz import grid\n")
    write(tmp_path, "vaekit/viz/grid.py", "from vaekit.serve import app\n")
    write(
        tmp_path,
        "vaekit/models/vae.py",
        "from typing import TYPE_CHECKING\n"
        "from ..runtime import errors\n"
        "from . import other\n"
        "if TYPE_CHECKING:\n"
        "    from vaekit.config import RunConfig\n"
        "def build():\n"
        "    from ..config import RunConfig\n",
    )
    write(tmp_path, "vaekit/models/other.py", "import vaekit.cli\n")
    write(tmp_path, "vaekit/cli.py")
    write(tmp_path, "vaekit/stray.py")
    assert violations(tmp_path) == [
        "src/vaekit/models/other.py:1 imports vaekit.cli: up from floor 2 (models) to floor 7 (cli)",
        "src/vaekit/models/vae.py:7 imports vaekit.config: up from floor 2 (models) to floor 3 (config)",
        "src/vaekit/stray.py: not in any room; give it a floor in tests/test_layers.py ROOMS",
        "src/vaekit/viz/grid.py:1 imports vaekit.serve.app: sideways on floor 6, from viz to serve",
    ]


def test_config_reaches_down_to_runtime_only(tmp_path):
    for package in ("vaekit", "vaekit/nets"):
        write(tmp_path, f"{package}/__init__.py")
    write(tmp_path, "vaekit/config.py", "from vaekit.nets import NETS\n")
    assert violations(tmp_path) == [
        "src/vaekit/config.py:1 imports vaekit.nets: down past its reach from floor 3 (config) to floor 1 (nets)"
    ]


def test_the_cycle_finder_sees_a_circle_through_a_lazy_import(tmp_path):
    write(tmp_path, "vaekit/__init__.py")
    write(tmp_path, "vaekit/a.py", "from vaekit import b\n")
    write(tmp_path, "vaekit/b.py", "def f():\n    from vaekit.a import g\n")
    assert import_cycles(tmp_path) == [["vaekit.a", "vaekit.b", "vaekit.a"]]
