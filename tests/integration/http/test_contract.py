"""The app against its own OpenAPI schema, route by route, in both auth modes.

Every route is called with broken input (ids that are not ids, query values of the wrong type,
bodies of the wrong shape, nothing at all) and with no login: every answer's status must be one
the schema lists for that operation, every 422 must match the schema (a validation error as
``HTTPValidationError``, with ``type`` in every item), and no answer is a 500. HEAD works wherever
GET does, a 405 says in ``Allow`` what the path serves, and ``/health/`` answers as ``/health``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import compile_path

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.access import WS, route_table
from kartoteka.presentation.http.app import create_app
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.harness.served import base_url, served
from tests.harness.smtp import SmtpServer
from tests.integration.http.conftest import api_settings
from tests.integration.identity.conftest import ROOT, SECRET, Api
from tests.openapi import operation_for, violations

SOME_ID = "00000000-0000-0000-0000-000000000001"
STREAMS = re.compile(r"/api/fs/events/?")
ENDS_THE_SESSION = re.compile(r"/api/session/logout.*")


@dataclass
class Contract:
    app: FastAPI
    spec: dict[str, Any]
    client: httpx.AsyncClient  # logged in as an admin (or anyone, without logins)
    anonymous: httpx.AsyncClient
    otp: bool


@pytest.fixture(params=["none", "otp"])
async def contract(
    request: pytest.FixtureRequest,
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    smtp_server: SmtpServer,
) -> AsyncIterator[Contract]:
    otp = request.param == "otp"
    auth: dict[str, Any] = {}
    if otp:
        smtp = {
            "host": smtp_server.host,
            "port": smtp_server.port,
            "tls": "none",
            "from_address": "c@kartoteka.example",
        }
        auth = {"kind": "otp", "secret_key": SECRET, "default_user_email": ROOT, "smtp": smtp}
        auth |= {"start_limit_per_address": 10_000, "verify_limit_per_address": 10_000}
    settings = api_settings(migrated_database, s3_server, redis_server, auth=auth)
    container = api_container(settings)
    app = create_app(container)

    def client() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(f"10.9.{uuid.uuid4().int % 250}.1", 1)
        )
        return httpx.AsyncClient(transport=transport, base_url="https://kartoteka")

    async with app.router.lifespan_context(app), client() as admin, client() as anonymous:
        if otp:
            await admin.post("/api/auth/otp/start", json={"email": ROOT})
            verified = await admin.post("/api/auth/otp/verify", json={"code": Api.code_in(smtp_server, ROOT)})
            assert verified.status_code == 200, verified.text
        spec = (await admin.get("/openapi.json")).json()
        yield Contract(app, spec, admin, anonymous, otp)


def concrete(template: str, value: str = SOME_ID) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


def hostile_requests(contract: Contract) -> list[tuple[httpx.AsyncClient, str, str, dict[str, Any]]]:
    """(client, method, url, request options): broken input for every route, and no login."""
    found = []
    for method, template in route_table(contract.app):
        if method in {WS, "HEAD"} or STREAMS.fullmatch(template) or ENDS_THE_SESSION.fullmatch(template):
            continue
        operation = operation_for(contract.spec, method, concrete(template)) or {}
        query = {p["name"]: "\x00not a value" for p in operation.get("parameters", []) if p["in"] == "query"}
        bodies: list[dict[str, Any]] = [{}]
        if method in {"POST", "PUT", "PATCH"}:
            bodies = [{"json": [1]}, {"json": {"email": 7, "role": [], "edits": "x", "image_id": "x"}}]
            bodies += [{"files": {"unexpected": ("x.bin", b"\x00", "application/octet-stream")}}, {"content": b"{"}]
        for body in bodies:
            found.append((contract.client, method, concrete(template, "not-an-id"), body))
            found.append((contract.client, method, concrete(template), {"params": query, **body}))
        found.append((contract.anonymous, method, concrete(template), {}))
    return found


async def test_every_answer_is_documented_and_every_422_matches_the_schema(contract: Contract) -> None:
    schemas = contract.spec["components"]["schemas"]
    assert schemas["ValidationError"]["required"] == ["loc", "msg", "type"]
    problems: list[str] = []
    checked = {"422": 0, "validation": 0}
    for client, method, url, options in hostile_requests(contract):
        response = await client.request(method, url, **options)
        where = f"{method} {url} {sorted(options)}: {response.status_code}"
        operation = operation_for(contract.spec, method, url.split("?")[0])
        if operation is None:
            continue  # a hidden route without a twin in the schema (the docs' own pages)
        if response.status_code >= 500 and response.status_code != 503:
            problems.append(f"{where} {response.text[:200]}")
        if response.status_code >= 300 and str(response.status_code) not in operation["responses"]:
            problems.append(f"{where} is not in the documented {sorted(operation['responses'])}")
        if response.status_code >= 400 and not response.json().get("error"):
            problems.append(f"{where} has no error: {response.text[:200]}")
        if response.status_code != 422:
            continue
        checked["422"] += 1
        body = response.json()
        documented = operation["responses"]["422"]["content"]["application/json"]["schema"]
        problems += [f"{where} {v}" for v in violations(body, documented, contract.spec)]
        if isinstance(body.get("detail"), list):
            checked["validation"] += 1
            validation = {"$ref": "#/components/schemas/HTTPValidationError"}
            problems += [f"{where} {v}" for v in violations(body, validation, contract.spec)]
    assert problems == []
    assert checked["validation"] > 50  # the walk did reach request validation, widely
    assert checked["422"] > checked["validation"]  # and refusals the routes make themselves


async def test_head_answers_like_get_without_a_body(contract: Contract) -> None:
    mismatched = []
    for method, template in route_table(contract.app):
        if method != "GET":
            continue
        url = concrete(template)
        head = await contract.client.head(url)
        if head.content:
            mismatched.append(f"HEAD {url} sent a body")
        if STREAMS.fullmatch(template):  # the event stream never ends: its HEAD is the headers alone
            assert (head.status_code, head.headers["content-type"]) == (200, "text/event-stream; charset=utf-8")
            continue
        get = await contract.client.get(url)
        if (head.status_code, head.headers.get("content-type")) != (get.status_code, get.headers.get("content-type")):
            mismatched.append(f"HEAD {url}: {head.status_code}, GET: {get.status_code}")
    assert mismatched == []


async def test_a_405_names_every_method_of_the_path(contract: Contract) -> None:
    by_path: dict[str, set[str]] = {}
    # As the router matches: a converter (``{image_id:uuid}``) keeps a template off the literal paths beside it.
    table = [(compile_path(t)[0], m) for m, t in route_table(contract.app) if m != WS]
    for method, template in route_table(contract.app):
        if method != WS:
            url = concrete(template)
            by_path[url] = {m for pattern, m in table if pattern.match(url)}
    wrong = []
    for url, methods in by_path.items():
        refused = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in methods)
        response = await contract.client.request(refused, url)
        expected = methods | ({"HEAD"} if "GET" in methods else set())
        allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
        if response.status_code != 405 or allow != expected or not response.json().get("error"):
            wrong.append(f"{refused} {url}: {response.status_code} Allow {sorted(allow)}, expected {sorted(expected)}")
    assert wrong == []


async def test_health_answers_with_and_without_the_slash_for_anyone(contract: Contract) -> None:
    for path in ("/health", "/health/"):
        response = await contract.anonymous.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        assert "location" not in response.headers
        assert (await contract.anonymous.head(path)).status_code == 200


async def test_a_500_leaves_a_kept_alive_connection_usable(settings: Settings) -> None:
    """Through uvicorn: the next request on the connection of a 500 gets its answer."""
    app = create_app(api_container(settings))

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/recognition/broken", broken, methods=["GET"])
    seen: set[int] = set()

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.add(scope["client"][1])
        await app(scope, receive, send)

    async with (
        served(recording, settings) as server,
        httpx.AsyncClient(base_url=base_url(server), limits=httpx.Limits(max_connections=1)) as client,
    ):
        failed = await client.get("/api/recognition/broken")
        assert (failed.status_code, failed.json()) == (500, {"error": "internal error", "detail": "RuntimeError"})
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/api/recognition/broken")).status_code == 500
        assert (await client.get("/health/")).status_code == 200
    assert len(seen) == 1  # one connection served them all
