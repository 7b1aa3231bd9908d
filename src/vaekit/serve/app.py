"""The explorer's HTTP layer: routes, error responses, the request-size limit and the page.

Every error is JSON ``{"error": "..."}`` naming the problem: 422 for input the model cannot
take, 413 for oversized requests, 404/405 for unknown routes. No route takes a path from the
request: the page's three files are read from the installed package once, at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vaekit._version import __version__
from vaekit.runtime.errors import DataError, VaekitError
from vaekit.serve.explorer import Explorer
from vaekit.serve.limits import ServeLimits
from vaekit.serve.rows import csv_row, row_frame
from vaekit.serve.schemas import (
    Decoded,
    DecodeRequest,
    EncodeRequest,
    EncodeResponse,
    ErrorResponse,
    InfoResponse,
    InterpolateRequest,
    InterpolateResponse,
    LatentsResponse,
    SampleRequest,
    SampleResponse,
)
from vaekit.serve.uploads import UploadTooLargeError, decode_base64, image_to_example

#: The page: URL path -> (file in the package's static folder, media type).
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
    "/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
}
#: The page loads nothing from elsewhere; the browser enforces it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ERRORS = {status: {"model": ErrorResponse} for status in (413, 422)}

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def error(status: int, message: str) -> JSONResponse:
    """Return the JSON error response ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


class BodyLimitMiddleware:
    """Refuse (413) request bodies larger than ``max_bytes`` before any route reads them.

    The body is read here, counting bytes as they arrive (a missing or false Content-Length does
    not get past), then handed on; it is never held beyond ``max_bytes``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.message = (
            f"request body is larger than the limit of {max_bytes} bytes "
            f"(uploads up to {upload_bytes} bytes; `vaekit serve --max-upload-mb` raises it)"
        )

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await error(400, "Content-Length is not a number")(scope, receive, send)
                return
            if too_big:
                await error(413, self.message)(scope, receive, send)
                return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await error(413, self.message)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class HostCheckMiddleware:
    """Answer only requests whose Host header names one of ``allowed_hosts`` (port aside).

    A server on loopback is still reachable from web pages the user visits, through DNS
    rebinding (a hostile name that resolves to 127.0.0.1); their requests carry that name as Host.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            name = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
            if name not in self.allowed:
                message = f"host {host!r} is not served here; open the explorer at one of {sorted(self.allowed)}"
                await error(400, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validation_message(exc: RequestValidationError, shown: int = 4) -> str:
    """Return one line naming each invalid field, e.g. ``z[3]: Input should be a finite number``."""
    parts = []
    for err in exc.errors():
        kind = err.get("type")
        if kind == "json_invalid":
            parts.append(f"the request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})")
            continue
        where = ""
        for p in (str(p) for p in err.get("loc", ()) if p != "body"):
            where += f"[{p}]" if p.isdigit() else (f".{p}" if where else p)
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if not where and kind == "missing":
            message = "the request needs a JSON object body"
        elif not where and kind in ("model_attributes_type", "dict_type"):
            message = "the request body must be a JSON object"
        parts.append(f"{where}: {message}" if where else message)
    if len(parts) > shown:
        parts = [*parts[:shown], f"and {len(parts) - shown} more"]
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _validation_message(exc))

    @app.exception_handler(UploadTooLargeError)
    async def _too_large(request: Request, exc: UploadTooLargeError) -> JSONResponse:
        return error(413, str(exc))

    @app.exception_handler(VaekitError)
    async def _user_error(request: Request, exc: VaekitError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))


def _page_files() -> dict[str, tuple[bytes, str]]:
    """Read the page's files from the installed package: URL path -> (bytes, media type)."""
    static = resources.files("vaekit.serve") / "static"
    return {path: (static.joinpath(name).read_bytes(), media) for path, (name, media) in PAGE_FILES.items()}


def build_app(explorer: Explorer, limits: ServeLimits, allowed_hosts: list[str] | None = None) -> FastAPI:
    """Return the FastAPI app serving ``explorer``'s API under ``/api`` and its page at ``/``.

    ``allowed_hosts``: when given, requests whose Host header names another host get a 400
    (``vaekit serve`` on loopback allows 127.0.0.1, localhost and ::1 only).

    The OpenAPI schema is at ``/api/openapi.json``; FastAPI's interactive docs pages are off
    because they load their scripts from a CDN and the explorer must work offline.
    """
    app = FastAPI(
        title="vaekit latent explorer",
        version=__version__,
        description="Walk a trained VAE's latent space: decode codes, encode uploads, sample, interpolate.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes, upload_bytes=limits.max_upload_bytes)
    if allowed_hosts is not None:
        app.add_middleware(HostCheckMiddleware, allowed_hosts=allowed_hosts)
    _install_error_handlers(app)
    info, latents = explorer.info(), explorer.latents()

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/api/info", response_model=InfoResponse, tags=["explorer"])
    def get_info() -> dict[str, Any]:
        """The model: shapes, likelihood, the sliders (ordered by KL), the map method and the limits."""
        return info

    @app.get("/api/latents", response_model=LatentsResponse, tags=["explorer"])
    def get_latents() -> dict[str, Any]:
        """The test split's posterior means on the 2-D map (PCA when latent_dim > 2), with labels."""
        return latents

    @app.post("/api/decode", response_model=Decoded, responses=ERRORS, tags=["explorer"])
    def decode(body: DecodeRequest) -> dict[str, Any]:
        """Decode a latent code, or a map point mapped back to one (the likelihood's mean)."""
        z = explorer.check_latent(body.z) if body.z is not None else explorer.latent_from_point(body.point or [])
        return explorer.decode(z, body.label)

    @app.post("/api/encode", response_model=EncodeResponse, responses=ERRORS, tags=["explorer"])
    def encode(body: EncodeRequest) -> dict[str, Any]:
        """Encode an uploaded image (resized to the model's input), a row of numbers, or a typed
        table's row (a JSON object or a CSV line): its posterior mean, map point, reconstruction
        and anomaly score (nats per example); under ``label`` for a conditional model."""
        if body.row is not None or body.csv is not None:
            return _encode_row(explorer, body)
        explorer.check_label(body.label)
        if body.image is not None:
            if not explorer.is_image:
                fix = "row (column -> value) or csv (a CSV line)" if explorer.codec else "values (a row of numbers)"
                raise DataError(f"image: this model was trained on a table; send {fix}")
            raw = decode_base64(body.image, limits.max_upload_bytes)
            example = image_to_example(
                raw, explorer.vae.input_shape, max_pixels=limits.max_image_pixels, invert=body.invert
            )
        else:
            example = explorer.check_example(body.values or [])
        return explorer.encode(example, body.label)

    @app.post("/api/sample", response_model=SampleResponse, responses=ERRORS, tags=["explorer"])
    def sample(body: SampleRequest) -> dict[str, Any]:
        """Draw codes from the prior (std scaled by temperature) and decode them (under ``label``: cvae)."""
        return explorer.sample(body.n, temperature=body.temperature, seed=body.seed, label=body.label)

    @app.post("/api/interpolate", response_model=InterpolateResponse, responses=ERRORS, tags=["explorer"])
    def interpolate(body: InterpolateRequest) -> dict[str, Any]:
        """Decode evenly spaced codes on the straight line from start to end (both included; under
        ``label``: cvae)."""
        start = explorer.check_latent(body.start, "start")
        end = explorer.check_latent(body.end, "end")
        return explorer.interpolate(start, end, body.steps, body.label)

    for path, (content, media) in _page_files().items():
        app.add_api_route(
            path, _static_route(content, media), methods=["GET"], include_in_schema=False, name=f"page {path}"
        )
    return app


def _encode_row(explorer: Explorer, body: EncodeRequest) -> dict[str, Any]:
    """Encode the typed table's row of ``body`` (``row`` or ``csv``) with the run's codec."""
    what = "row" if body.row is not None else "csv"
    explorer.check_no_row(what)
    row = body.row if body.row is not None else csv_row(body.csv or "", explorer.codec)
    return explorer.encode_row(row_frame(row, what), body.label, what)


def _static_route(content: bytes, media: str) -> Callable[[], Response]:
    def route() -> Response:
        return Response(content, media_type=media, headers={"Cache-Control": "no-cache"})

    return route
