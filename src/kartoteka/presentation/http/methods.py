"""HTTP methods as clients may use them: HEAD wherever GET is, and a 405 that says what is allowed.

FastAPI registers a GET route for GET alone, so ``HEAD`` (what link checkers, caches and
``curl -I`` send) would be a 405. Here a HEAD request is served by its GET route and answered
with that route's status and headers and no body; an endless answer (the event stream) ends
after its headers. A path is often served by several routes, one per method, and the router's
405 names the methods of the first of them only: its ``Allow`` lists every method of every
route at that path instead.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kartoteka.presentation.http.access import WS, route_table

_TABLE = "kartoteka_method_table"


def _method_table(app: Any) -> list[tuple[re.Pattern[str], str]]:
    table: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, _TABLE, None)
    if table is None:
        table = [(compile_path(path)[0], method) for method, path in route_table(app) if method != WS]
        setattr(app.state, _TABLE, table)
    return table


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method a route serves at ``path``, HEAD included wherever GET is."""
    methods = {method for pattern, method in _method_table(app) if pattern.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class HttpMethods:
    """ASGI middleware: HEAD as GET without a body, and the full ``Allow`` on every 405."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def allow_all(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = ", ".join(allowed_methods(scope["app"], scope["path"])).encode("latin-1")
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        if scope["method"] != "HEAD":
            await self._app(scope, receive, allow_all)
            return
        await _as_get(self._app, scope, receive, allow_all)


async def _as_get(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    finished = asyncio.Event()

    async def headers_only(message: Message) -> None:
        if finished.is_set():
            return
        if message["type"] == "http.response.body":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            finished.set()  # from now on the client is gone, as far as the route can tell
            return
        await send(message)

    async def until_finished() -> Message:
        if finished.is_set():
            return {"type": "http.disconnect"}
        received = asyncio.ensure_future(receive())
        ended = asyncio.ensure_future(finished.wait())
        await asyncio.wait({received, ended}, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        if received.done():
            return received.result()
        received.cancel()
        return {"type": "http.disconnect"}

    # A copy: the server's own scope still says HEAD, so it sends no body either.
    await app({**scope, "method": "GET"}, until_finished, headers_only)
