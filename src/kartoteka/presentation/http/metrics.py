"""What the api counts for its operators, and ``GET /metrics`` where Prometheus reads it.

Requests are counted by method, route *template* and status (``/api/recognition/tasks/{task_id}``,
never the id), so a client cannot grow the number of series: a path no route serves counts as
``unmatched``. The template is found by matching the path against the app's routes once the
response is sent, the same way for every request (a HEAD request is served from a copy of its scope,
where the router's own note of the route never reaches this middleware). Open WebSockets count from
their accept to their end; an event stream (``text/event-stream``) from its first byte to its end.

``/metrics`` needs no login (``metrics.api_endpoint`` turns it off): what it shows is counts by
route and status and the process's own figures, never an id, a path or a user, and Prometheus scrapes
without a session. Where that is still too much to show, turn it off or keep it from the public at
the reverse proxy. It is left out of the OpenAPI schema: it is for operators, not for API clients.

The recorder is a port (:class:`HttpMetrics`): its Prometheus implementation lives with the other
processes' metrics in infrastructure, and the composition root hands it to :func:`install_metrics`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kartoteka.presentation.http.access import WS, route_table

UNMATCHED = "unmatched"
_TABLE = "kartoteka_metrics_routes"


class HttpMetrics(Protocol):
    content_type: str

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None: ...
    def socket_opened(self) -> None: ...
    def socket_closed(self) -> None: ...
    def stream_opened(self) -> None: ...
    def stream_closed(self) -> None: ...
    def exposition(self) -> bytes:
        """Everything this process measures, in Prometheus's text format."""
        ...


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    endpoint: bool = True  # serve GET /metrics


def route_template(app: Any, path: str, websocket: bool = False) -> str:
    """The template of the first route serving ``path`` (any method), or ``unmatched``."""
    table: list[tuple[re.Pattern[str], str, bool]] | None = getattr(app.state, _TABLE, None)
    if table is None:
        seen: set[tuple[str, bool]] = set()
        table = []
        for method, template in route_table(app):
            key = (template, method == WS)
            if key not in seen:
                seen.add(key)
                table.append((compile_path(template)[0], template, method == WS))
        setattr(app.state, _TABLE, table)
    for pattern, template, is_socket in table:
        if is_socket == websocket and pattern.match(path):
            return template
    return UNMATCHED


class RequestMetrics:
    """ASGI middleware, outermost, so every answer is counted, an unexpected error's 500 included."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the client gets when the app ends without answering
        streaming = False

        async def observing(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = next((v for k, v in message.get("headers", ()) if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/event-stream"):
                    streaming = True
                    self._metrics.stream_opened()
            await send(message)

        try:
            await self._app(scope, receive, observing)
        finally:
            if streaming:
                self._metrics.stream_closed()
            route = route_template(scope["app"], scope["path"])
            self._metrics.request_done(scope["method"], route, status, time.perf_counter() - began)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = False

        async def observing(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                self._metrics.socket_opened()
            await send(message)

        try:
            await self._app(scope, receive, observing)
        finally:
            if accepted:
                self._metrics.socket_closed()


def install_metrics(app: FastAPI, metrics: HttpMetrics, options: MetricsOptions) -> None:
    """The route (when enabled); call before the access rules are checked. The middleware is added by
    the caller last of all, with :class:`RequestMetrics`, so that it is the outermost."""
    if not options.endpoint:
        return

    async def scrape(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=metrics.content_type)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False, response_class=Response)
