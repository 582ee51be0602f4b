"""Every route while PostgreSQL, Redis, S3 or RabbitMQ is down: a JSON 503 (or a 4xx) at once, never a
500 or a hang; then the server comes back and the same requests succeed, over the same connection,
without restarting anything.

The servers are this module's own (``tests.harness.restartable``), so stopping them disturbs no
other test. The api runs under a real uvicorn, configured as ``kartoteka api`` runs it, and one
keep-alive client makes every request of a scenario over one TCP connection: the connection has
to survive the outage too. Both auth modes are walked: with logins on, every guarded request
also needs the database to say who is calling.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from PIL import Image
from redis.asyncio import Redis

from kartoteka.application.gallery.outbox_messages import gallery_event
from kartoteka.application.shared.live_messages import FileCreatedEvent
from kartoteka.di import api_container
from kartoteka.domain.recognition.task import Progress
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.migrate import upgrade
from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed
from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher
from kartoteka.presentation.http import gallery_sse
from kartoteka.presentation.http.access import WS, route_table
from kartoteka.presentation.http.app import create_app
from tests.harness.postgres import PostgresServer
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.restartable import Restartable, own_postgres, own_rabbitmq, own_redis, own_s3, rabbitmq_installed
from tests.harness.s3 import S3Server
from tests.harness.served import base_url, served
from tests.harness.smtp import SmtpServer
from tests.integration.identity.conftest import ROOT, SECRET, Api
from tests.openapi import operation_for

SOME_ID = "00000000-0000-0000-0000-000000000001"
ANSWER_WITHIN_S = 2.0  # "about a second", with room for a busy two-core test machine
RECOVER_WITHIN_S = 30.0
# Gallery searches need an index, and no embedding worker builds one here: 503 before, during and after.
NEEDS_INDEX = re.compile(r"search by|similarity-search|search-by-|near-duplicates")
SKIPPED = re.compile(r"/api/fs/events/?|/api/session/logout.*")  # endless; ends the walk's own session


@dataclass
class Stack:
    postgres: Restartable
    redis: Restartable
    s3: Restartable
    rabbitmq: Restartable | None
    database: PostgresServer
    redis_facts: RedisServer
    s3_facts: S3Server
    rabbit_facts: RabbitMQServer | None

    def server(self, name: str) -> Restartable:
        found: Restartable | None = getattr(self, name)
        if found is None:
            pytest.skip("rabbitmq-server is not installed")
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("outages")
    with (
        own_postgres(base / "postgres") as (postgres, database),
        own_redis(base / "redis") as (redis, redis_facts),
        own_s3(base / "s3") as (s3, s3_facts),
    ):
        upgrade(database.url)
        if not rabbitmq_installed():
            yield Stack(postgres, redis, s3, None, database, redis_facts, s3_facts, None)
            return
        with own_rabbitmq(base / "rabbitmq") as (rabbitmq, rabbit_facts):
            yield Stack(postgres, redis, s3, rabbitmq, database, redis_facts, s3_facts, rabbit_facts)


def settings_for(stack: Stack, smtp: SmtpServer, *, otp: bool) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": stack.database.url, "connect_timeout_s": 2},
        "redis": {"url": stack.redis_facts.url},
        "s3": {
            "endpoint": stack.s3_facts.endpoint,
            "access_key": stack.s3_facts.access_key,
            "secret_key": stack.s3_facts.secret_key,
            "region": stack.s3_facts.region,
            "bucket": f"outages-{uuid.uuid4().hex[:8]}",
            "timeout_s": 2,
        },
        "embedding": {"query_timeout_s": 1},
    }
    if otp:
        values["auth"] = {
            "kind": "otp",
            "secret_key": SECRET,
            "default_user_email": ROOT,
            "cookie_secure": False,
            "session_recheck_s": 0.5,
            "start_limit_per_email": 10_000,
            "start_limit_per_address": 10_000,
            "verify_limit_per_address": 10_000,
            "smtp": {"host": smtp.host, "port": smtp.port, "tls": "none", "from_address": "codes@kartoteka.example"},
        }
        if stack.rabbit_facts is not None:  # the query encoder's jobs go through RabbitMQ
            values["broker"] = {"url": stack.rabbit_facts.url}
    return Settings.model_validate(values)


def png(color: tuple[int, int, int] = (200, 200, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Ids:
    task: str
    batch: str
    image: str
    user: str = SOME_ID


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Answer:
    status: int
    elapsed_s: float
    body: bytes
    content_type: str

    def problem(self) -> str | None:
        """What is wrong with this answer during an outage, if anything."""
        if self.elapsed_s > ANSWER_WITHIN_S:
            return f"answered after {self.elapsed_s:.1f} s"
        if self.status >= 500 and self.status != 503:
            return f"{self.status} {self.body[:200]!r}"
        if self.status >= 400:
            try:
                body = json.loads(self.body)
            except ValueError:
                return f"{self.status} is not JSON: {self.body[:200]!r}"
            if not isinstance(body, dict) or not body.get("error"):
                return f"{self.status} has no error: {self.body[:200]!r}"
        return None


def calls(app: FastAPI, ids: Ids) -> list[Call]:
    """Every route of the app, then requests that do real work (store a card, search, read bytes)."""
    real = {"task_id": ids.task, "image_id": ids.image, "batch_id": ids.batch, "user_id": ids.user}
    found: list[Call] = []
    for method, template in route_table(app):
        if method in {WS, "HEAD"} or SKIPPED.fullmatch(template):
            continue

        def concrete(match: re.Match[str], method: str = method) -> str:
            return real.get(match.group(1), SOME_ID) if method == "GET" else SOME_ID

        url = re.sub(r"\{([^}]+)\}", concrete, template)
        if template.startswith("/task"):  # the old clients' routes take the id in the query
            url += f"?task_id={ids.task if method == 'GET' else SOME_ID}&new_text=x"
        kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
        found.append(Call(f"{method} {template}", method, url, kwargs))
    card = {"files": [("images", ("card.png", png(), "image/png"))]}
    sketch = {"files": {"image": ("blob", png(), "image/png")}}
    found += [
        Call("submit a card", "POST", "/api/recognition/tasks", card),
        Call("submit a card the old way", "POST", "/task/submit", {"files": {"image": ("c.png", png(), "image/png")}}),
        Call("list a batch", "GET", f"/api/recognition/tasks?batch={ids.batch}"),
        Call("search the transcripts", "GET", "/api/recognition/search?q=%D0%B4%D0%BE%D0%BC"),
        Call("read a scan", "GET", f"/api/recognition/tasks/{ids.task}/image"),
        Call("a thumbnail", "GET", f"/api/images/{ids.image}/thumbnail"),
        Call("search by sketch", "POST", "/api/images/similarity-search", sketch),
        Call("search by image", "POST", "/api/images/search-by-image", {"json": {"image_id": ids.image}}),
        Call("start a login", "POST", "/api/auth/otp/start", {"json": {"email": "nobody@example.org"}}),
    ]
    return found


async def walk(client: httpx.AsyncClient, requests: list[Call]) -> dict[Call, Answer]:
    answers: dict[Call, Answer] = {}
    for call in requests:
        kwargs = dict(call.kwargs)
        if call.name == "upload an image":
            kwargs["files"] = {"image": (f"{uuid.uuid4().hex}.png", png(), "image/png")}
        started = time.monotonic()
        response = await client.request(call.method, call.url, **kwargs)
        answers[call] = Answer(
            response.status_code,
            time.monotonic() - started,
            response.content,
            response.headers.get("content-type", ""),
        )
    return answers


class ClientPorts:
    """The app, recording the client port of every HTTP request: one port is one TCP connection."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.ports: set[int] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("client"):
            self.ports.add(scope["client"][1])
        await self.app(scope, receive, send)


@dataclass
class Running:
    app: FastAPI
    base: str
    client: httpx.AsyncClient
    ports: ClientPorts
    settings: Settings
    ids: Ids
    cookie: dict[str, str]


async def eventually_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + RECOVER_WITHIN_S
    while (await client.get("/ready")).status_code != 200:
        assert time.monotonic() < deadline, (await client.get("/ready")).text
        await asyncio.sleep(0.2)


@pytest.fixture(params=["none", "otp"])
async def running(request: pytest.FixtureRequest, stack: Stack, smtp_server: SmtpServer) -> AsyncIterator[Running]:
    otp = request.param == "otp"
    settings = settings_for(stack, smtp_server, otp=otp)
    app = create_app(api_container(settings))
    ports = ClientPorts(app)
    async with served(ports, settings, timeout_keep_alive=300) as server:
        base = base_url(server)
        limits = httpx.Limits(max_connections=1, keepalive_expiry=300)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=15) as client:
            cookie: dict[str, str] = {}
            if otp:
                await client.post("/api/auth/otp/start", json={"email": ROOT})
                verified = await client.post("/api/auth/otp/verify", json={"code": Api.code_in(smtp_server, ROOT)})
                assert verified.status_code == 200, verified.text
                cookie = {"session_token": client.cookies["session_token"]}
                users = (await client.get("/api/users", params={"email": ROOT})).json()["users"]
                user = users[0]["id"]
            else:
                user = SOME_ID
            cards = [("images", (f"c{i}.png", png(), "image/png")) for i in range(2)]
            submitted = await client.post("/api/recognition/tasks", files=cards)
            assert submitted.status_code == 202, submitted.text
            task = submitted.json()["tasks"][0]
            uploaded = await client.post(
                "/api/images", files={"image": (f"seed-{uuid.uuid4().hex}.png", png((9, 9, 9)), "image/png")}
            )
            assert uploaded.status_code == 200, uploaded.text
            ids = Ids(task["id"], str(task["batch_id"]), uploaded.json()["image"]["id"], user)
            await eventually_ready(client)
            yield Running(app, base, client, ports, settings, ids, cookie)


# What must be a 503 while each server is down (besides /ready), whatever the auth mode.
MUST_FAIL = {
    "postgres": ("GET /api/recognition/tasks", "search the transcripts", "list a batch", "GET /api/images"),
    "redis": (),
    "s3": ("read a scan", "submit a card"),
    "rabbitmq": (),
}


# Each server down under each kind of app; only the OTP app sends its jobs through RabbitMQ (the
# other keeps the Redis list broker covered), so a RabbitMQ outage is tried on that app alone.
@pytest.mark.parametrize(
    ("running", "outage"),
    [(auth, outage) for auth in ("none", "otp") for outage in ("postgres", "redis", "s3")] + [("otp", "rabbitmq")],
    indirect=["running"],
)
async def test_every_route_answers_at_once_while_a_server_is_down_and_recovers(
    running: Running, stack: Stack, outage: str
) -> None:
    server = stack.server(outage)
    requests = calls(running.app, running.ids)
    requests.append(Call("upload an image", "POST", "/api/images", {"data": {"directory": "."}}))
    client = running.client
    spec = (await client.get("/openapi.json")).json()
    before = await walk(client, requests)
    unexpected = {c.name: a.status for c, a in before.items() if a.status >= 500 and not NEEDS_INDEX.search(c.name)}
    assert unexpected == {}, "the baseline has server errors"

    with server.down():
        during = await walk(client, requests)
        problems = {c.name: p for c, a in during.items() if (p := a.problem()) is not None}
        assert problems == {}
        undocumented = {
            c.name: a.status
            for c, a in during.items()
            if a.status >= 400
            and (op := operation_for(spec, c.method, c.url.split("?")[0])) is not None
            and str(a.status) not in op["responses"]
        }
        assert undocumented == {}, "answers the OpenAPI schema does not list"
        by_name = {c.name: a.status for c, a in during.items()}
        assert by_name["GET /ready"] == 503
        otp = running.settings.auth.kind == "otp"
        for name in MUST_FAIL[outage]:
            assert by_name[name] == 503, (name, during[next(c for c in during if c.name == name)].body)
        if otp and outage in {"postgres", "redis"}:
            assert by_name["start a login"] == 503  # the limiter (Redis) or the account look-up (PostgreSQL)
        slowest = max(a.elapsed_s for a in during.values())
    await eventually_ready(client)
    after = await walk(client, requests)
    changed = {
        c.name: (before[c].status, a.status)
        for c, a in after.items()
        if a.status != before[c].status and c.name != "start a login"  # the login limit counts on
    }
    assert changed == {}, "the same requests answer differently after the outage"
    assert len(running.ports.ports) == 1, "every request, through the outage, went over one connection"
    assert slowest <= ANSWER_WITHIN_S


async def test_an_open_socket_gets_an_error_frame_while_postgres_is_down_and_then_its_snapshot(
    running: Running, stack: Stack
) -> None:
    ws_url = running.base.replace("http://", "ws://") + "/api/ws"
    headers = {"Cookie": f"session_token={running.cookie['session_token']}"} if running.cookie else {}
    subscribe = json.dumps({"op": "subscribe", "tasks": [running.ids.task]})
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        with stack.postgres.down():
            await ws.send(subscribe)
            frame = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN_S))
            assert frame["type"] == "error"
            assert frame["status"] == 503
            await ws.send(json.dumps({"op": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN_S)) == {"type": "pong"}
        await eventually_ready(running.client)
        await ws.send(subscribe)
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert snapshot["type"] == "snapshot"
        assert [t["id"] for t in snapshot["tasks"]] == [running.ids.task]


class Heard:
    """Everything a socket or a stream says, collected in the background as it arrives."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.arrived = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self.arrived.set()

    async def wait_for(self, matches: Any, within_s: float, start: int = 0) -> Any:
        deadline = time.monotonic() + within_s
        while True:
            for item in self.items[start:]:
                if matches(item):
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                return None


async def _listen_socket(ws: Any, heard: Heard) -> None:
    async for raw in ws:
        heard.add(json.loads(raw))


async def _listen_stream(stream: httpx.Response, heard: Heard) -> None:
    async for line in stream.aiter_lines():
        heard.add(line)


async def test_a_socket_and_a_stream_stay_open_while_redis_is_down_and_catch_up(
    running: Running, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_sse, "KEEP_ALIVE_S", 0.3)
    ws_url = running.base.replace("http://", "ws://") + "/api/ws"
    headers = {"Cookie": f"session_token={running.cookie['session_token']}"} if running.cookie else {}
    frames, lines = Heard(), Heard()
    async with (
        websockets.connect(ws_url, additional_headers=headers) as ws,
        httpx.AsyncClient(base_url=running.base, cookies=running.cookie, timeout=30) as browser,
        browser.stream("GET", "/api/fs/events") as stream,
    ):
        assert stream.status_code == 200
        listeners = [
            asyncio.create_task(_listen_socket(ws, frames)),
            asyncio.create_task(_listen_stream(stream, lines)),
        ]
        try:
            with stack.redis.down():
                await ws.send(json.dumps({"op": "subscribe", "tasks": [running.ids.task]}))
                snapshot = await frames.wait_for(lambda f: f["type"] == "snapshot", 5)
                assert snapshot is not None  # the database still answers
                paused = await frames.wait_for(lambda f: f["type"] == "error", 5)
                assert paused is not None
                assert paused["status"] == 503
                since = len(lines.items)
                assert await lines.wait_for(lambda line: "keep-alive" in line, 5, since) is not None
            redis = Redis.from_url(running.settings.redis.url)
            try:
                event = FileCreatedEvent(path=f"outage-{uuid.uuid4().hex}.png", created_at=utc_now())
                deadline = time.monotonic() + RECOVER_WITHIN_S
                while True:  # the api subscribes again a moment after Redis is back; until then, nothing arrives
                    assert time.monotonic() < deadline, "live messages did not resume"
                    await RedisChannelPublisher(redis).publish([gallery_event(event)])
                    await RedisProgressFeed(redis).publish(uuid.UUID(running.ids.task), 1, Progress("reading", 3, 9))
                    streamed = await lines.wait_for(lambda line: event.path in line, 0.5)
                    pushed = await frames.wait_for(lambda f: f["type"] == "task.progress", 0.5)
                    if streamed and pushed:
                        break
            finally:
                await redis.aclose()
        finally:
            for listener in listeners:
                listener.cancel()


@pytest.fixture
async def searchable_model(stack: Stack) -> AsyncIterator[None]:
    """A complete index, so that a search asks an embedding worker (there is none: it waits, then 503)."""
    from sqlalchemy import delete
    from sqlalchemy.ext.asyncio import create_async_engine

    from kartoteka.application.gallery.ports.embedding import EmbeddingModelId
    from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
    from kartoteka.infrastructure.db.schema import embedding_models

    engine = create_async_engine(stack.database.url)
    model = EmbeddingModelId(f"outage-{uuid.uuid4().hex[:8]}", "1")
    registry = SqlModelRegistry(engine)
    await registry.register(model, 8, supports_text=True)
    await registry.mark_ready(model)
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(embedding_models).where(embedding_models.c.key == model.key))
        await engine.dispose()


async def test_a_search_while_the_job_broker_is_down_answers_503_at_once(
    running: Running, stack: Stack, searchable_model: None
) -> None:
    """The api's one use of the broker: a query goes to an embedding worker and back (none runs here, so
    even with the broker up the answer is a 503, after the second the search may wait)."""
    broker = stack.server("rabbitmq") if running.settings.broker.url else stack.redis
    searches = [
        Call("by sketch", "POST", "/api/images/similarity-search", {"files": {"image": ("b", png(), "image/png")}}),
        Call("by text", "POST", "/api/images/search-by-text", {"json": {"text": "дом"}}),
    ]
    before = await walk(running.client, searches)
    assert {a.status for a in before.values()} == {503}  # no worker answers within the second it is given
    with broker.down():
        during = await walk(running.client, searches)
    assert {c.name: a.problem() for c, a in during.items()} == {"by sketch": None, "by text": None}
    assert {a.status for a in during.values()} == {503}
    await eventually_ready(running.client)
    after = await walk(running.client, searches)
    assert {a.status for a in after.values()} == {503}
    assert all(a.elapsed_s < ANSWER_WITHIN_S for a in after.values())
