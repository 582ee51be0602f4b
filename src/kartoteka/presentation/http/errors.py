"""Every failure becomes JSON ``{"error", "detail"}`` with a status code that says whose fault it is.

One table maps each kind of refusal to its status, for recognition, the gallery and identity
alike; an error class says its kind, its message and its detail, never its status. Two refusals
also say something in a header: a stale revision the current ``ETag``, a rate limit when to
come back (``Retry-After``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kartoteka.application.identity.errors import RateLimitedError
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.revisions import StaleRevisionError

log = logging.getLogger(__name__)

STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.REFUSED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.PRECONDITION_FAILED: 412,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED: 415,
    ErrorKind.INVALID: 422,
    ErrorKind.PRECONDITION_REQUIRED: 428,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}


def _headers(exc: Refusal) -> dict[str, str] | None:
    if isinstance(exc, StaleRevisionError) and exc.current is not None:
        return {"ETag": f'"{exc.current}"'}
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


class MissingPreconditionError(Refusal):
    """A change that must say which revision it was made against came without ``If-Match``."""

    kind = ErrorKind.PRECONDITION_REQUIRED


class ShapedRefusal(Refusal):
    """A refusal whose JSON body is ``error`` and the given fields, where a client contract expects
    that shape instead of ``error`` and ``detail``."""

    def __init__(self, message: str, fields: dict[str, object]) -> None:
        super().__init__(message)
        self.fields = fields


def error(status: int, message: str, detail: object = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


def refusal_response(exc: Refusal) -> JSONResponse:
    """The answer to a refusal: for handlers, and for routes that add a cookie to it."""
    if exc.kind is ErrorKind.UNAVAILABLE:
        log.warning("dependency unavailable: %s", exc)
    body = {"error": exc.message, **exc.fields} if isinstance(exc, ShapedRefusal) else None
    if body is None:
        return error(STATUS[exc.kind], exc.message, exc.detail, _headers(exc))
    return JSONResponse(body, status_code=STATUS[exc.kind], headers=_headers(exc))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # OpenAPI's ValidationError: loc, msg and type (the input is not echoed back).
        problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error(422, "the request is not valid", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), None, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request.method, request.url.path, exc)


def _internal_error(method: str, path: str, exc: BaseException) -> JSONResponse:
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return error(500, "internal error", type(exc).__name__)


class UnexpectedErrors:
    """A 500 for an exception nothing else handled, without closing the connection.

    Starlette's last-resort handler answers and then raises the exception again for the server,
    and uvicorn closes the connection after it: a client that reuses its connection (keep-alive,
    a pool) then gets no answer to its next request. Caught here, inside that handler, the
    answer is the same JSON 500 and the connection stays usable. Once the answer has started
    there is nothing left to say, and the exception goes on to the server. Install it outside
    every other middleware of the app (``add_middleware`` last).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            await _internal_error(scope["method"], scope["path"], exc)(scope, receive, send)
