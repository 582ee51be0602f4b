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
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return error(422, "the request is not valid", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error", type(exc).__name__)
