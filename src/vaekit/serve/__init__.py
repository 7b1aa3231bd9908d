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

__all__ = ["LOOPBACK_HOSTS", "MissingExtraError", "create_app", "require_serve_extra", "run_app", "serve"]


class MissingExtraError(VaekitError):
    """An optional dependency group (a pip "extra") is not installed."""


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
            f"the latent explorer needs {', '.join(missing)}, which is not installed; "
            "install it with: pip install 'vaekit[serve]'"
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
