"""The latent explorer: a web page and a JSON API to walk a trained model's latent space.

``vaekit serve RUN_DIR`` starts it. The web parts (FastAPI, uvicorn) are the optional extra
``serve``; this package imports them only inside :func:`create_app` and :func:`serve`, so a
missing extra gives one clear error instead of an ImportError deep in a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vaekit.runtime.errors import VaekitError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "LOOPBACK_HOSTS",
    "MissingExtraError",
    "create_app",
    "install_hint",
    "require_serve_extra",
    "run_app",
    "serve",
    "source_checkout",
]


class MissingExtraError(VaekitError):
    """An optional dependency group (a pip "extra") is not installed."""


def source_checkout(package_file: str | Path | None = None) -> Path | None:
    """Return the root of the vaekit source checkout this package runs from (an editable install:
    ``ROOT/src/vaekit`` beside a ``ROOT/pyproject.toml`` naming vaekit), or ``None`` for an
    installed package. ``package_file``: a file of the vaekit package (default: this module)."""
    from pathlib import Path

    package = Path(package_file or __file__).resolve().parent
    while package.name != "vaekit" and package.parent != package:
        package = package.parent
    root = package.parent.parent
    if package.parent.name != "src":
        return None
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "vaekit"' in pyproject else None


def install_hint(package_file: str | Path | None = None, executable: str | None = None) -> str:
    """Return how to install the serve extra from where the user is. From a source checkout:
    ``make dev``, or an editable install with the extra by the pip of the Python running now
    (e.g. ``.venv/bin/pip install -e '.[serve]'``); from an installed package:
    ``pip install 'vaekit[serve]'``."""
    import sys
    from pathlib import Path

    root = source_checkout(package_file)
    if root is None:
        return "install it with: pip install 'vaekit[serve]'"
    python = Path(executable or sys.executable).absolute()
    pip = f"{python.parent / 'pip'}" if (python.parent / "pip").exists() else f"{python} -m pip"
    pip = pip.replace(f"{root}/", "", 1) if pip.startswith(f"{root}/") else pip
    cd = "" if Path.cwd().resolve() == root else f"cd {root} && "
    return f"from this source checkout, install it with `{cd}make dev` (or `{cd}{pip} install -e '.[serve]'`)"


def require_serve_extra() -> None:
    """Raise ``MissingExtraError`` naming the install command unless FastAPI and uvicorn import."""
    missing = []
    for module in ("fastapi", "uvicorn", "pydantic"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingExtraError(
            f"the latent explorer needs {', '.join(missing)}, which is not installed; {install_hint()}"
        )


#: Names of this machine's loopback interface; a server bound to one answers only to these.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def create_app(
    run_dir: str | Path, *, which: str = "last", allowed_hosts: list[str] | None = None, **options: Any
) -> Any:
    """Return the explorer's ASGI app (a FastAPI instance) for the run folder ``run_dir``.

    ``which`` picks the ``"last"`` or ``"best"`` weights. ``options`` are the fields of
    :class:`vaekit.serve.limits.ServeLimits` (e.g. ``max_upload_bytes``). ``allowed_hosts``: the Host names it answers to (``None``: any).
    The model is loaded and the latent map computed here, once.
    """
    require_serve_extra()
    from vaekit.serve.app import build_app
    from vaekit.serve.explorer import Explorer
    from vaekit.serve.limits import ServeLimits

    limits = ServeLimits(**options)
    return build_app(Explorer.from_run(run_dir, limits, which), limits, allowed_hosts)


def run_app(app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve an app from :func:`create_app` on ``host:port`` with uvicorn until interrupted (blocks)."""
    require_serve_extra()
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve the explorer for ``run_dir`` on ``host:port`` until interrupted (blocks). On a
    loopback ``host`` it answers only to loopback names (a guard against DNS rebinding)."""
    allowed = list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else None
    run_app(create_app(run_dir, allowed_hosts=allowed, **options), host, port)
