"""``create_app``: the cockpit's ASGI application over one engine.

One FastAPI app serves the pages (``/``), the REST API (``/api/v1``, its OpenAPI document at
``/api/v1/openapi.json``), ``/metrics`` and the static assets shipped in the wheel. Every
route but the login page and the assets needs a token (``auth``). retailflow's errors become
4xx JSON answers that say what was wrong; a body larger than ``max_body_bytes`` is refused
before it is read.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retailflow.cockpit import api, auth, metrics, pages
from retailflow.cockpit.actions import Actions
from retailflow.engine import Engine
from retailflow.model import (
    ConcurrentUpdateError,
    DeploymentError,
    InstanceEndedError,
    NotFoundError,
    RetailflowError,
    StoreUnavailableError,
    VariableTypeError,
)

API_PREFIX = "/api/v1"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A request body may be 1 MiB: a BPMN file or a task's variables, not a data dump."""

# The most specific class first: the first that matches gives the status.
_STATUS_OF_ERROR: tuple[tuple[type[RetailflowError], int], ...] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (InstanceEndedError, status.HTTP_409_CONFLICT),
    (ConcurrentUpdateError, status.HTTP_409_CONFLICT),
    (DeploymentError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (VariableTypeError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (StoreUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def create_app(engine: Engine, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The cockpit over ``engine`` (whose store also holds the tokens). Serve it with
    uvicorn (``retailflow cockpit`` does), or drive it with ``fastapi.testclient``."""
    app = FastAPI(
        title="retailflow",
        summary="Drive and inspect retailflow processes: deploy, start, correlate, retry.",
        version="1",
        openapi_url=None,  # served below, behind a token
        docs_url=None,  # Swagger UI would load its assets from a CDN
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.actions = Actions(engine)
    app.state.csrf_key = secrets.token_bytes(32)
    app.state.metrics = metrics.metrics_registry(engine.store, engine.clock.now)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    _add_error_answers(app)
    app.include_router(auth.router)
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.mount(
        "/static",
        StaticFiles(directory=Path(__file__).with_name("static"), check_dir=False),
        name="static",
    )

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi_document(_: auth.Viewer) -> dict[str, Any]:
        """The REST API's OpenAPI 3 document (the API routes only, not the pages)."""
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            document["paths"] = {
                path: item
                for path, item in document.get("paths", {}).items()
                if path.startswith(API_PREFIX)
            }
            document["components"] = {
                **document.get("components", {}),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            }
            document["security"] = [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    return app


def _add_error_answers(app: FastAPI) -> None:
    """Every refusal is JSON with a ``detail`` message (pages: a redirect to the login)."""

    @app.exception_handler(RetailflowError)
    def retailflow_error(request: Request, error: RetailflowError) -> Response:
        code = next(
            (code for kind, code in _STATUS_OF_ERROR if isinstance(error, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        body: dict[str, Any] = {"detail": str(error), "error": type(error).__name__}
        if isinstance(error, DeploymentError):
            body["findings"] = [str(finding) for finding in error.findings]
        return JSONResponse(body, status_code=code)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        ]
        return JSONResponse(
            {"detail": "; ".join(problems), "error": "RequestValidationError"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == status.HTTP_401_UNAUTHORIZED and _wants_page(request):
            return auth.login_redirect(request)
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a script) is sent to log in."""
    return not request.url.path.startswith((API_PREFIX, "/metrics")) and "text/html" in (
        request.headers.get("accept", "")
    )


class SecurityHeaders:
    """Headers on every answer that keep a browser from misusing it: no other site may frame
    the cockpit (a framed page could trick an operator into clicking Cancel), no content-type
    sniffing, and no URL (with its instance ids and business keys) leaks as a referrer."""

    HEADERS = (
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse (413) a request whose body exceeds ``max_bytes``: at once when its
    Content-Length says so, else as soon as the streamed body passes the limit, so no
    oversized body is ever held in memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing unchanged, and
                    # the app's handler answers it.
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._message)
            return message

        await self.app(scope, counted, send)

    @property
    def _message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": self._message}, status_code=status.HTTP_413_CONTENT_TOO_LARGE
        )
        await response(scope, receive, send)
