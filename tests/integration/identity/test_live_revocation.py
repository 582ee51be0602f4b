"""Open WebSockets and event streams end when their login does: logout, expiry, a deleted user, a revoked
token (4401), a demotion below the route's role (4403); the SSE stream simply ends.

Through a real uvicorn, with the session's clock injected: expiry is the clock moved past the
session's lifetime, not a wait. The re-check runs every ``auth.session_recheck_s`` (0.2 s here);
each test waits for the close under a deadline of a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI, WebSocket

from kartoteka.di import api_container
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http import gallery_sse
from kartoteka.presentation.http.access import access_lost, close_code
from kartoteka.presentation.http.app import create_app
from tests.fakes.shared import FakeClock
from tests.harness.served import base_url, served
from tests.harness.smtp import SmtpServer
from tests.integration.identity.conftest import ROOT, Api, ClockProvider
from tests.integration.identity.test_users_api import new_email

CLOSED_WITHIN_S = 5.0
RECHECK_S = 0.2


@dataclass
class Live:
    app: FastAPI
    base: str
    clock: FakeClock
    smtp: SmtpServer

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    async def login(self, email: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.base)
        await client.post("/api/auth/otp/start", json={"email": email})
        verified = await client.post("/api/auth/otp/verify", json={"code": Api.code_in(self.smtp, email)})
        assert verified.status_code == 200, verified.text
        return client


def cookie_of(client: httpx.AsyncClient) -> dict[str, str]:
    return {"Cookie": f"session_token={client.cookies['session_token']}"}


async def admin_probe(websocket: WebSocket) -> None:
    """A socket on a path no rule names, so admins only: what a demotion can take away."""
    await websocket.accept()
    refusal = await access_lost(websocket)
    await websocket.close(code=close_code(refusal), reason=refusal.message)


@pytest.fixture
async def live(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[Live]:
    auth = settings.auth.model_copy(update={"cookie_secure": False, "session_recheck_s": RECHECK_S})
    plain = settings.model_copy(update={"auth": auth})
    clock = FakeClock(utc_now())
    app = create_app(api_container(plain, ClockProvider(clock)))
    app.add_api_websocket_route("/ws-admin-probe", admin_probe)
    async with served(app, plain) as server:
        yield Live(app, base_url(server), clock, smtp_server)


async def closed_with(ws: Any) -> int:
    """The close code, once the server closes the socket (frames before it are skipped)."""

    async def until_closed() -> int:
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1  # -1: no close frame at all

    return await asyncio.wait_for(until_closed(), CLOSED_WITHIN_S)


async def stream_ends(stream: httpx.Response) -> list[str]:
    async def read() -> list[str]:
        return [line async for line in stream.aiter_lines()]

    return await asyncio.wait_for(read(), CLOSED_WITHIN_S)


async def new_user(live: Live, role: str) -> tuple[dict[str, Any], httpx.AsyncClient]:
    root = await live.login(ROOT)
    async with contextlib.aclosing(root):
        made = await root.post("/api/users", json={"email": new_email(role), "role": role})
        assert made.status_code == 201, made.text
    return made.json(), await live.login(made.json()["email"])


async def test_logout_closes_the_sockets_and_ends_the_stream_of_that_session(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_sse, "KEEP_ALIVE_S", 0.2)
    _, user = await new_user(live, "user")
    async with (
        contextlib.aclosing(user),
        websockets.connect(live.ws + "/api/ws", additional_headers=cookie_of(user)) as ws,
        websockets.connect(live.ws + "/task/status", additional_headers=cookie_of(user)) as legacy,
        httpx.AsyncClient(base_url=live.base, cookies=dict(user.cookies)) as browser,
        browser.stream("GET", "/api/fs/events") as stream,
    ):
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
        await asyncio.sleep(RECHECK_S * 3)  # a few re-checks pass while the session is good
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}

        assert (await user.post("/api/session/logout")).status_code == 200
        assert await closed_with(ws) == 4401
        assert await closed_with(legacy) == 4401
        said = await stream_ends(stream)
        assert any("Authentication required" in line for line in said)


async def test_a_session_that_expires_closes_its_socket(live: Live, settings: Settings) -> None:
    _, user = await new_user(live, "editor")
    async with (
        contextlib.aclosing(user),
        websockets.connect(live.ws + "/api/ws", additional_headers=cookie_of(user)) as ws,
    ):
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
        live.clock.advance(seconds=settings.auth.session_ttl_s + 1)
        assert await closed_with(ws) == 4401


async def test_deleting_the_user_closes_their_sockets_and_streams(live: Live) -> None:
    made, user = await new_user(live, "user")
    async with (
        contextlib.aclosing(user),
        websockets.connect(live.ws + "/api/ws", additional_headers=cookie_of(user)) as ws,
        httpx.AsyncClient(base_url=live.base, cookies=dict(user.cookies)) as browser,
        browser.stream("GET", "/api/fs/events") as stream,
    ):
        async with contextlib.aclosing(await live.login(ROOT)) as root:
            assert (await root.delete(f"/api/users/{made['id']}")).status_code == 200
        assert await closed_with(ws) == 4401
        await stream_ends(stream)


async def test_a_revoked_token_closes_its_socket(live: Live) -> None:
    async with contextlib.aclosing(await live.login(ROOT)) as root:
        issued = (await root.post("/api/tokens", json={"name": "watcher", "role": "user"})).json()
        bearer = {"Authorization": f"Bearer {issued['token']}"}
        async with websockets.connect(live.ws + "/api/ws", additional_headers=bearer) as ws:
            await ws.send(json.dumps({"op": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
            assert (await root.delete(f"/api/tokens/{issued['id']}")).status_code == 200
            assert await closed_with(ws) == 4401


async def test_a_demotion_closes_what_the_new_role_may_not_open_and_keeps_the_rest(live: Live) -> None:
    made, second_admin = await new_user(live, "admin")
    async with (
        contextlib.aclosing(second_admin),
        websockets.connect(live.ws + "/ws-admin-probe", additional_headers=cookie_of(second_admin)) as probe,
        websockets.connect(live.ws + "/api/ws", additional_headers=cookie_of(second_admin)) as ws,
    ):
        async with contextlib.aclosing(await live.login(ROOT)) as root:
            demoted = await root.put(f"/api/users/{made['id']}", json={"role": "user"})
            assert demoted.status_code == 200, demoted.text
        assert await closed_with(probe) == 4403
        await asyncio.sleep(RECHECK_S * 3)  # users may follow tasks: that socket stays
        await ws.send(json.dumps({"op": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
