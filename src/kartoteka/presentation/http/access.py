"""Who may call what: one rule for every route, checked before the route runs.

Roles are ordered user < editor < admin. Users read and search; editors also
submit, correct, upload, cancel, retry and delete; admins also manage users and
API tokens. The rules are written out here, route pattern by route pattern, and
the app refuses to start when a route has none: a new route cannot slip out
unguarded. WebSockets and the SSE stream are checked the same way, with the
same cookie or bearer token; a refused socket is closed before it is accepted.
Once open, they check again every ``auth.session_recheck_s`` (``access_lost``):
a logout, a deleted account or a demotion closes them within that time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from kartoteka.application.identity.errors import AuthenticationRequiredError, PermissionDeniedError
from kartoteka.domain.errors import Refusal
from kartoteka.domain.identity.roles import Role
from kartoteka.presentation.http.auth import AuthOptions, identify, identify_again
from kartoteka.presentation.http.errors import STATUS, refusal_response

log = logging.getLogger(__name__)

PUBLIC = None
WS = "WS"  # the "method" of a WebSocket route


@dataclass(frozen=True, slots=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    role: Role | None

    def applies(self, method: str, path: str) -> bool:
        return method in self.methods and self.pattern.fullmatch(path) is not None


def _rule(methods: str, pattern: str, role: Role | None) -> Rule:
    return Rule(frozenset(methods.split()), re.compile(pattern), role)


READ = "GET HEAD"
WRITE = "POST PUT PATCH DELETE"
SLASH = "/?"

# First match wins; the order goes from particular to general.
RULES: tuple[Rule, ...] = (
    # /metrics: counts by route and status only, for a scraper with no session (presentation/http/metrics.py).
    _rule(READ, r"/health/?|/ready|/docs.*|/redoc|/openapi\.json|/metrics", PUBLIC),
    # The workbench's page and files (web.py): public, as the page signs people in; its data is not.
    _rule(READ, r"/|/assets/.+|/(batches|cards|search|upload|sign-in)(/.*)?", PUBLIC),
    _rule(READ + " " + WRITE, r"/api/auth/.*|/api/session(/.*)?", PUBLIC),  # logging in needs no login
    _rule(READ + " " + WRITE, r"/api/(users|tokens)(/.*)?", Role.ADMIN),
    # Searching is reading, even where the query travels in a POST body.
    _rule("POST", r"/api/images/(similarity-search|search-by-image|search-by-text)" + SLASH, Role.USER),
    _rule(READ, r"/api/(recognition|images|fs)(/.*)?", Role.USER),
    _rule(WRITE, r"/api/(recognition|images)(/.*)?", Role.EDITOR),
    _rule(READ, r"/task/?|/task/image", Role.USER),
    _rule(WRITE, r"/task/(submit|cancel|update_text)", Role.EDITOR),
    _rule(WS, r"/api/ws|/task/status", Role.USER),
)


class UnguardedRouteError(RuntimeError):
    """A route without an access rule: a start-up error, never a route open by accident."""


def required_role(method: str, path: str) -> Role | None:
    for rule in RULES:
        if rule.applies(method, path):
            return rule.role
    raise UnguardedRouteError(f"no access rule for {method} {path}")


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, slash twins included; WebSockets as ``WS``."""
    found: list[tuple[str, str]] = []

    def walk(routes: Iterable[object], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.extend((method, prefix + route.path) for method in sorted(route.methods or ()))
            elif isinstance(route, APIWebSocketRoute):
                found.append((WS, prefix + route.path))
            elif (included := getattr(route, "original_router", None)) is not None:
                # FastAPI keeps an included router whole; its include-time prefix comes on top.
                context = getattr(route, "include_context", None)
                walk(included.routes, prefix + (getattr(context, "prefix", "") or ""))
            elif hasattr(route, "routes"):
                walk(route.routes, prefix + getattr(route, "path", ""))
            elif hasattr(route, "path") and hasattr(route, "methods"):  # FastAPI's own docs routes
                found.extend((method, prefix + route.path) for method in sorted(route.methods or ()))

    walk(app.router.routes, "")
    return found


def check_every_route_has_a_rule(app: FastAPI) -> None:
    for method, path in route_table(app):
        required_role(method, _example(path))


def _example(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", template)


def _role_for(scope: Scope) -> Role | None:
    method = WS if scope["type"] == "websocket" else scope["method"]
    try:
        return required_role(method, scope["path"])
    except UnguardedRouteError:
        return Role.ADMIN  # an unknown path is refused by routing anyway; never open by default


def close_code(refusal: Refusal) -> int:
    """The WebSocket close code for a refusal: 4000 + its HTTP status (4401, 4403, ...)."""
    return 4000 + STATUS[refusal.kind]


async def access_lost(conn: HTTPConnection) -> Refusal:
    """Returns, with the refusal, once the credential this socket or stream was opened with no longer
    admits it (logged out, expired, the user deleted or demoted, the token revoked); never returns
    for a route open to all, or when authentication is off.

    A check that cannot be made (the database is down) keeps the connection: an outage is not a
    logout, and the next check decides.
    """
    role = _role_for(conn.scope)
    options: AuthOptions = conn.app.state.auth_options
    if role is None or not options.enabled:
        await asyncio.Future()  # until cancelled
    while True:
        await asyncio.sleep(options.session_recheck_s)
        try:
            principal = await identify_again(conn)
        except Refusal as exc:
            log.info("could not re-check the credential of %s: %s", conn.scope["path"], exc)
            continue
        if not principal.authenticated:
            return AuthenticationRequiredError()
        if role is not None and not principal.may(role):
            return PermissionDeniedError()


class AccessControl:
    """ASGI middleware applying ``RULES`` to every request and WebSocket before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self._app(scope, receive, send)
            return
        role = _role_for(scope)
        if role is None:
            await self._app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        conn: HTTPConnection = WebSocket(scope, receive, send) if websocket else Request(scope, receive)
        try:
            principal = await identify(conn)
            if not principal.authenticated:
                raise AuthenticationRequiredError
            if not principal.may(role):
                raise PermissionDeniedError
        except Refusal as refusal:
            await _refuse(scope, receive, send, refusal)
            return
        await self._app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    if scope["type"] == "websocket":
        # Closed before it is accepted: the handshake is answered 403, the close code says why.
        await send({"type": "websocket.close", "code": close_code(refusal), "reason": refusal.message})
        return
    await refusal_response(refusal)(scope, receive, send)
