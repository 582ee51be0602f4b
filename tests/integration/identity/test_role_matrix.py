"""Every route of the application × anonymous / user / editor / admin / bearer token.

The matrix is generated from the app's own route table, so a route added later is in it
at once; a route with no access rule stops the app from starting at all (last test).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from kartoteka.domain.identity.roles import Role
from kartoteka.presentation.http.access import WS, UnguardedRouteError, required_role, route_table
from tests.integration.identity.conftest import ROOT, Api
from tests.integration.identity.test_users_api import logged_in, new_user

RANK = {Role.USER: 1, Role.EDITOR: 2, Role.ADMIN: 3}
SOME_ID = "00000000-0000-0000-0000-000000000001"
STREAMS = re.compile(r"/api/fs/events/?")


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", SOME_ID, path)


async def call(client: httpx.AsyncClient, method: str, path: str, **headers: str) -> int:
    body: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    response = await client.request(method, concrete(path), headers=headers, **body)
    return response.status_code


@pytest.fixture
async def callers(api: Api) -> AsyncIterator[dict[str, tuple[httpx.AsyncClient, dict[str, str], int]]]:
    """name → (client, headers, rank); rank 0 is anonymous."""
    async with logged_in(api, ROOT) as root:
        user_email = (await new_user(root, "user"))["email"]
        editor_email = (await new_user(root, "editor"))["email"]
        token = (await root.post("/api/tokens", json={"name": "script", "role": "editor"})).json()["token"]
        async with (
            logged_in(api, user_email) as user,
            logged_in(api, editor_email) as editor,
            api.client() as anonymous,
        ):
            yield {
                "anonymous": (anonymous, {}, 0),
                "user": (user, {}, 1),
                "editor": (editor, {}, 2),
                "admin": (root, {}, 3),
                "bearer editor token": (anonymous, {"Authorization": f"Bearer {token}"}, 2),
            }


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    # Logging out would end the sessions the matrix is using; the auth tests cover those routes.
    skip = re.compile(r"/api/session/logout.*|/api/auth/.*|/docs/oauth2-redirect")
    return [(m, p) for m, p in route_table(app) if m not in {WS, "HEAD"} and not skip.fullmatch(p)]


async def test_every_route_answers_each_role_as_its_rule_says(api: Api, callers: dict[str, Any]) -> None:
    routes = http_routes(api.app)
    assert len(routes) > 50
    failures = []
    for method, path in routes:
        needed = required_role(method, concrete(path))
        for name, (client, headers, rank) in callers.items():
            if STREAMS.fullmatch(path) and needed is not None and rank >= RANK[needed]:
                continue  # an admitted caller's event stream never ends; refusals are checked
            status = await call(client, method, path, **headers)
            if needed is None:
                expected_ok = True
            elif rank == 0:
                expected_ok = False
                if status != 401:
                    failures.append(f"{name} {method} {path}: {status}, expected 401")
                continue
            else:
                expected_ok = rank >= RANK[needed]
            if expected_ok and status in {401, 403}:
                failures.append(f"{name} {method} {path}: {status}, expected to be let through")
            if not expected_ok and status != 403:
                failures.append(f"{name} {method} {path}: {status}, expected 403")
    assert failures == []


def test_the_rules_say_what_the_issue_says() -> None:
    assert required_role("GET", "/health") is None
    assert required_role("POST", "/api/auth/otp/start") is None
    assert required_role("GET", "/api/recognition/tasks") is Role.USER
    assert required_role("GET", "/api/images") is Role.USER
    assert required_role("POST", "/api/images/similarity-search") is Role.USER  # searching is reading
    assert required_role("POST", "/api/recognition/tasks") is Role.EDITOR
    assert required_role("PATCH", f"/api/recognition/tasks/{SOME_ID}/transcript") is Role.EDITOR
    assert required_role("POST", "/api/images/") is Role.EDITOR
    assert required_role("DELETE", f"/api/images/{SOME_ID}") is Role.EDITOR
    assert required_role("PUT", "/task/update_text") is Role.EDITOR
    assert required_role("GET", "/api/users") is Role.ADMIN
    assert required_role("POST", "/api/tokens") is Role.ADMIN
    assert required_role(WS, "/api/ws") is Role.USER
    assert required_role("GET", "/api/fs/events") is Role.USER
    with pytest.raises(UnguardedRouteError):
        required_role("GET", "/api/something-new")


async def test_sockets_need_a_login_too(api: Api) -> None:
    import asyncio
    import socket

    import uvicorn

    listening = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(api.app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    base = f"127.0.0.1:{listening.getsockname()[1]}"
    try:
        async with logged_in(api, ROOT) as root:
            cookie = f"session_token={root.cookies['session_token']}"
        for path in ("/api/ws", "/task/status"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"ws://{base}{path}"):
                    pass
            assert refused.value.response.status_code == 403
        async with websockets.connect(f"ws://{base}/api/ws", additional_headers={"Cookie": cookie}) as ws:
            await ws.send(json.dumps({"op": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)
        listening.close()


def test_a_route_without_a_rule_stops_the_app_from_starting() -> None:
    from kartoteka.presentation.http.access import check_every_route_has_a_rule

    app = FastAPI()

    @app.get("/api/unguarded")
    async def unguarded() -> dict[str, str]:
        return {}

    with pytest.raises(UnguardedRouteError, match="/api/unguarded"):
        check_every_route_has_a_rule(app)
