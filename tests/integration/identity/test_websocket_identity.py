"""``identify`` on a WebSocket through a real uvicorn: sockets authenticate with the same cookie.

The recognition and gallery sockets are guarded by the lead; this probe shows the pieces work
where a browser's socket arrives, with the cookie a login set over plain HTTP (``cookie_secure``
off, as for development on localhost).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
import websockets
from fastapi import WebSocket

from kartoteka.di import api_container
from kartoteka.domain.identity.roles import Role
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from kartoteka.presentation.http.auth import identify
from tests.harness.smtp import SmtpServer
from tests.integration.identity.conftest import ROOT, Api


async def probe(websocket: WebSocket) -> None:
    who = await identify(websocket)
    if not who.may(Role.USER):
        await websocket.close(code=4401)  # before accepting: the handshake is refused with a 403
        return
    await websocket.accept()
    await websocket.send_json({"kind": who.kind.value, "role": who.role.value if who.role else None})
    await websocket.close()


@pytest.fixture
async def served(settings: Settings, smtp_server: SmtpServer) -> AsyncIterator[str]:
    plain = settings.model_copy(update={"auth": settings.auth.model_copy(update={"cookie_secure": False})})
    app = create_app(api_container(plain))
    app.add_api_websocket_route("/ws-probe", probe)
    # A socket already listening: connections wait in its backlog until uvicorn serves them, so
    # nothing has to poll for the server to be up.
    listening = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)
        listening.close()


async def test_a_socket_is_identified_by_the_session_cookie(served: str, smtp_server: SmtpServer) -> None:
    async with httpx.AsyncClient(base_url=f"http://{served}") as browser:
        await browser.post("/api/auth/otp/start", json={"email": ROOT})
        code = Api.code_in(smtp_server, ROOT)
        assert (await browser.post("/api/auth/otp/verify", json={"code": code})).status_code == 200
        cookie = f"session_token={browser.cookies['session_token']}"
    async with websockets.connect(f"ws://{served}/ws-probe", additional_headers={"Cookie": cookie}) as ws:
        assert json.loads(await ws.recv()) == {"kind": "session", "role": "admin"}
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"ws://{served}/ws-probe"):
            pass
    assert refused.value.response.status_code == 403
