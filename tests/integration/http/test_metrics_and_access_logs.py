"""What the api tells its operators, through a real uvicorn configured as ``kartoteka api`` runs it:
``/metrics`` counts requests by route template and status and the sockets and streams open now,
and no log line of a request ever carries its cookie, bearer token or token query parameter."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
import websockets

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.observability.log_records import configure_logging
from kartoteka.presentation.http.app import create_app
from tests.harness.metrics import value
from tests.harness.served import base_url, served


@pytest.fixture
def process_log() -> Iterator[io.StringIO]:
    """The process's logging, as ``kartoteka api`` sets it up, written here instead of to stderr."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("text", "INFO", stream=stream)
    client = logging.getLogger("httpx")  # the test's own client logs the URLs it sends; the server is on trial
    client_level = client.level
    client.setLevel(logging.WARNING)
    yield stream
    client.setLevel(client_level)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for a condition the server reaches a moment after the client acted (a close, a log line)."""
    try:
        async with asyncio.timeout(10):
            while not await condition():  # noqa: ASYNC110  (a condition polled under a deadline)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_requests_are_counted_by_route_template_and_status(settings: Settings) -> None:
    app = create_app(api_container(settings))
    assert "/metrics" not in app.openapi()["paths"]  # for operators, not API clients
    missing = uuid.uuid4()
    async with served(app, settings) as server, httpx.AsyncClient(base_url=base_url(server)) as client:
        before = (await client.get("/metrics")).text
        route = "/api/recognition/tasks/{task_id}"
        counted = value(before, "kartoteka_http_requests_total", method="GET", route=route, status="404") or 0
        assert (await client.get(f"/api/recognition/tasks/{missing}")).status_code == 404
        assert (await client.head(f"/api/recognition/tasks/{missing}")).status_code == 404
        assert (await client.get(f"/no/such/{missing}")).status_code == 404
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert value(text, "kartoteka_http_requests_total", method="GET", route=route, status="404") == counted + 1
    assert (value(text, "kartoteka_http_requests_total", method="HEAD", route=route, status="404") or 0) >= 1
    assert (value(text, "kartoteka_http_requests_total", method="GET", route="unmatched", status="404") or 0) >= 1
    assert (value(text, "kartoteka_http_request_duration_seconds_count", method="GET", route=route) or 0) >= 1
    assert str(missing) not in text  # an id never becomes a label


async def test_open_websockets_and_event_streams_are_gauged(settings: Settings) -> None:
    app = create_app(api_container(settings))
    async with served(app, settings) as server, httpx.AsyncClient(base_url=base_url(server)) as client:

        async def gauges() -> tuple[float, float]:
            text = (await client.get("/metrics")).text
            names = ("kartoteka_http_open_websockets", "kartoteka_http_open_event_streams")
            sockets, streams = (value(text, name) or 0.0 for name in names)
            return sockets, streams

        sockets, streams = await gauges()
        async with websockets.connect(base_url(server, "ws") + "/api/ws"):
            assert await gauges() == (sockets + 1, streams)
        async with (
            httpx.AsyncClient(base_url=base_url(server)) as listener,
            listener.stream("GET", "/api/fs/events") as stream,
        ):
            assert stream.status_code == 200
            assert (await gauges())[1] == streams + 1

        async def back() -> bool:
            return await gauges() == (sockets, streams)

        await until(back, "the gauges to count the closed socket and stream out")


async def test_metrics_can_be_turned_off(settings: Settings) -> None:
    quiet = settings.model_copy(update={"metrics": settings.metrics.model_copy(update={"api_endpoint": False})})
    app = create_app(api_container(quiet))
    async with served(app, quiet) as server, httpx.AsyncClient(base_url=base_url(server)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"]


async def test_no_log_line_carries_a_cookie_a_bearer_token_or_a_token_query(
    settings: Settings, process_log: io.StringIO
) -> None:
    cookie, bearer, query = "cookie-" + uuid.uuid4().hex, "bearer-" + uuid.uuid4().hex, "query-" + uuid.uuid4().hex
    headers = {"Cookie": f"session_token={cookie}", "Authorization": f"Bearer {bearer}"}
    app = create_app(api_container(settings))
    async with served(app, settings, log_level="info") as server:
        async with httpx.AsyncClient(base_url=base_url(server), headers=headers) as client:
            await client.get("/api/recognition/tasks", params={"token": query, "limit": "5"})
            await client.get(f"/api/recognition/tasks/{uuid.uuid4()}", params={"access_token": query})
        url = base_url(server, "ws") + f"/api/ws?token={query}"
        async with websockets.connect(url, additional_headers=headers):
            pass

    async def socket_logged() -> bool:
        return "WebSocket /api/ws" in process_log.getvalue()

    await until(socket_logged, "the socket's log line")
    logged = process_log.getvalue()
    assert "GET /api/recognition/tasks?token=***&limit=5" in logged  # the lines are there, minus the secrets
    assert "WebSocket /api/ws?token=***" in logged
    for secret in (cookie, bearer, query):
        assert secret not in logged, f"{secret} was logged:\n{logged}"
