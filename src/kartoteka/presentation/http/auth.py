"""Authentication over HTTP: Sketch-Search's login contract, and who the caller is on every route.

Routes, bodies and cookies are the ones Sketch-Search's web UI logs in with (docs/contracts.md):
``POST /api/auth/otp/start`` → ``challenge_token`` cookie, ``POST /api/auth/otp/verify`` →
``session_token`` cookie, ``GET /api/session``, ``POST /api/session/logout``. The challenge
cookie is set for every address, known or not, so its presence never tells who has an account;
logout revokes the session in the database; a stale challenge cookie is cleared like any
cookie that stands for nothing; and no token, code or cookie is ever logged.

``identify`` is how any route (HTTP, WebSocket or SSE) learns who is calling:
a ``session_token`` cookie or an ``Authorization: Bearer`` API token, or
everyone-is-admin when ``auth.kind`` is ``none``. Whether the caller may call
a route is decided in one place, ``access.py``, before the route runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from dishka import AsyncContainer
from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from kartoteka.application.identity.errors import (
    ChallengeNotFoundError,
)
from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.sessions import (
    Authenticate,
    GetSession,
    Logout,
    LogoutEverywhere,
    PurgeExpired,
    SessionState,
)
from kartoteka.application.identity.users import EnsureDefaultAdmin
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.domain.identity.challenges import ChallengeRefusedError
from kartoteka.domain.identity.principal import Principal
from kartoteka.presentation.http.errors import refusal_response

log = logging.getLogger(__name__)

CHALLENGE_COOKIE = "challenge_token"
SESSION_COOKIE = "session_token"
PRINCIPAL_STATE = "kartoteka_principal"


@dataclass(frozen=True, slots=True)
class AuthOptions:
    """What the HTTP layer needs to know about authentication before the first request."""

    enabled: bool = False  # auth.kind otp
    cookie_secure: bool = True
    purge_interval_s: float = 3600.0
    session_recheck_s: float = 5.0  # how often an open socket or stream checks its credential again


# ------------------------------------------------------------------------------ who is calling


def client_address(conn: HTTPConnection) -> str | None:
    """The peer address (uvicorn puts a trusted proxy's X-Forwarded-For here); rate limits key on it."""
    return conn.client.host if conn.client else None


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of ``Authorization: Bearer <token>``; "" for a Bearer header without one; None otherwise."""
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _container(conn: HTTPConnection) -> AsyncContainer:
    container: AsyncContainer | None = getattr(conn.state, "dishka_container", None)
    return container if container is not None else conn.app.state.dishka_container


async def identify(conn: HTTPConnection) -> Principal:
    """Who sent this request or opened this socket; anonymous when no credential is valid.

    Works for ``Request`` and ``WebSocket`` alike, and is worked out once per connection.
    """
    known: Principal | None = getattr(conn.state, PRINCIPAL_STATE, None)
    if known is not None:
        return known
    authenticate = await _container(conn).get(Authenticate)
    principal = await authenticate(conn.cookies.get(SESSION_COOKIE), bearer_token(conn))
    setattr(conn.state, PRINCIPAL_STATE, principal)
    return principal


async def identify_again(conn: HTTPConnection) -> Principal:
    """Who the credentials of this connection stand for now, read afresh (a long-lived socket or stream
    asks again and again: the session may have ended, the user may be gone or have another role)."""
    authenticate = await _container(conn).get(Authenticate)
    return await authenticate(conn.cookies.get(SESSION_COOKIE), bearer_token(conn))


# Who is calling, for a route that records it (the author of a correction, the submitter of a card).
# Whether they may call the route at all is decided before it runs, by the access rules.
Caller = Annotated[Principal, Depends(identify)]


# ------------------------------------------------------------------------------------- cookies


def _options(conn: HTTPConnection) -> AuthOptions:
    options: AuthOptions = conn.app.state.auth_options
    return options


def set_cookie(response: JSONResponse, conn: HTTPConnection, name: str, value: str) -> None:
    """HttpOnly, SameSite=Lax, Path=/, a browser-session cookie (the server decides expiry)."""
    response.set_cookie(name, value, httponly=True, secure=_options(conn).cookie_secure, samesite="lax", path="/")


def clear_cookie(response: JSONResponse, conn: HTTPConnection, name: str) -> None:
    response.delete_cookie(name, httponly=True, secure=_options(conn).cookie_secure, samesite="lax", path="/")


# -------------------------------------------------------------------------------------- routes

otp_router = APIRouter(prefix="/api/auth/otp", tags=["auth"])
session_router = APIRouter(prefix="/api/session", tags=["auth"])


class OtpStartBody(BaseModel):
    email: str = Field(max_length=320)


class OtpVerifyBody(BaseModel):
    code: str = Field(max_length=64)


@otp_router.post("/start", response_model=None)
@inject
async def otp_start(request: Request, body: Annotated[OtpStartBody, Body()], start: FromDishka[StartOtp]) -> Any:
    """Mails a code when the address has an account; the answer and the cookie are the same either way."""
    token = await start(body.email, client_address(request))
    response = JSONResponse({"state": SessionState.CHALLENGE_ISSUED.value})
    set_cookie(response, request, CHALLENGE_COOKIE, token)
    return response


@otp_router.post("/verify", response_model=None)
@inject
async def otp_verify(request: Request, body: Annotated[OtpVerifyBody, Body()], verify: FromDishka[VerifyOtp]) -> Any:
    try:
        login = await verify(request.cookies.get(CHALLENGE_COOKIE), body.code, client_address(request))
    except ChallengeRefusedError as refused:
        response = refusal_response(refused)
        if refused.attempts_left == 0:  # the challenge is dead: the UI must start again
            clear_cookie(response, request, CHALLENGE_COOKIE)
        return response
    except ChallengeNotFoundError as exc:
        response = refusal_response(exc)
        clear_cookie(response, request, CHALLENGE_COOKIE)
        return response
    response = JSONResponse({"state": SessionState.AUTHENTICATED.value, "role": login.user.role.value})
    set_cookie(response, request, SESSION_COOKIE, login.token)
    clear_cookie(response, request, CHALLENGE_COOKIE)
    return response


@session_router.get("", response_model=None)
@inject
async def session_state(request: Request, get_session: FromDishka[GetSession]) -> Any:
    view = await get_session(
        request.cookies.get(CHALLENGE_COOKIE), request.cookies.get(SESSION_COOKIE), bearer_token(request)
    )
    body: dict[str, Any] = {"state": view.state.value}
    if view.state is SessionState.AUTHENTICATED and view.principal.role is not None:
        body["role"] = view.principal.role.value
        if view.principal.email is not None:
            body["email"] = view.principal.email
    response = JSONResponse(body)
    if view.clear_challenge:
        clear_cookie(response, request, CHALLENGE_COOKIE)
    if view.clear_session:
        clear_cookie(response, request, SESSION_COOKIE)
    return response


@inject
async def logout(request: Request, end: FromDishka[Logout]) -> Any:
    """Revokes the session server-side: the cookie stops working wherever a copy of it is."""
    await end(request.cookies.get(SESSION_COOKIE))
    response = JSONResponse({"state": SessionState.ANONYMOUS.value})
    clear_cookie(response, request, SESSION_COOKIE)
    clear_cookie(response, request, CHALLENGE_COOKIE)
    return response


# The web UI posts to ``/logout/``: both spellings are served (docs/contracts.md).
session_router.add_api_route("/logout", logout, methods=["POST"], response_model=None)
session_router.add_api_route("/logout/", logout, methods=["POST"], response_model=None, include_in_schema=False)

account_router = APIRouter(prefix="/api/session", tags=["auth"])


@inject
async def logout_everywhere(request: Request, end_all: FromDishka[LogoutEverywhere], principal: Caller) -> Any:
    """Every session of the calling user ends, this one included (a lost laptop, a shared computer)."""
    revoked = await end_all(principal)
    response = JSONResponse({"state": SessionState.ANONYMOUS.value, "revoked": revoked})
    clear_cookie(response, request, SESSION_COOKIE)
    clear_cookie(response, request, CHALLENGE_COOKIE)
    return response


account_router.add_api_route("/logout-everywhere", logout_everywhere, methods=["POST"], response_model=None)
account_router.add_api_route(
    "/logout-everywhere/", logout_everywhere, methods=["POST"], response_model=None, include_in_schema=False
)


# --------------------------------------------------------------------------------- installation


def install_identity(app: FastAPI, options: AuthOptions) -> None:
    """Mount the login routes the mode calls for.

    With ``auth.kind: none`` only ``/api/session`` (always an admin) and logout are mounted: no
    user, OTP or token route exists, as in the contract (the app mounts the user admin routes
    only when this is enabled too).
    """
    app.state.auth_options = options
    app.include_router(session_router)
    if options.enabled:
        app.include_router(otp_router)
        app.include_router(account_router)


@contextlib.asynccontextmanager
async def identity_lifespan(container: AsyncContainer, options: AuthOptions) -> AsyncIterator[None]:
    """Start-up: warn loudly when the service is open; otherwise make sure someone can log in, and keep
    the tables small while the process runs."""
    if not options.enabled:
        log.warning(
            "AUTHENTICATION IS OFF (auth.kind: none): every request acts as an admin. Anyone who can reach "
            "this service can read, change and delete everything. Set auth.kind: otp for any shared deployment."
        )
        yield
        return
    ensure = await container.get(EnsureDefaultAdmin)
    purge = await container.get(PurgeExpired)
    admin_ready = False
    try:
        await ensure()
        admin_ready = True
    except DatabaseUnavailableError as exc:  # the database may come up after the api; keep trying below
        log.warning("could not check for a default admin yet: %s", exc)
    task = asyncio.create_task(_housekeeping(ensure, purge, options.purge_interval_s, admin_ready))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _housekeeping(ensure: EnsureDefaultAdmin, purge: PurgeExpired, interval_s: float, admin_ready: bool) -> None:
    while True:
        try:
            if not admin_ready:
                await ensure()
                admin_ready = True
            await purge()
        except DatabaseUnavailableError as exc:
            log.warning("identity housekeeping postponed: %s", exc)
        except Exception:  # a bug here must not end the loop, nor the process
            log.exception("identity housekeeping failed")
        await asyncio.sleep(interval_s if admin_ready else min(interval_s, 5.0))
