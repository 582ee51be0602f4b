"""WebSockets over a real uvicorn, with the relay carrying status events through real Redis."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from PIL import Image

from kartoteka.di import api_container
from kartoteka.domain.recognition.task import Progress
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed
from kartoteka.presentation.http.app import create_app
from kartoteka.presentation.http.live import LiveHub
from kartoteka.presentation.http.ws import MAX_FRAME_CHARS, MAX_IDS_PER_FRAME, MAX_IDS_PER_SOCKET, MAX_MESSAGE_BYTES
from kartoteka.runtime.api import uvicorn_config
from kartoteka.runtime.relay import run_relay
from tests.integration.http.conftest import finish_task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, base: str, hub: LiveHub, settings: Settings) -> None:
        self.base = base
        self.ws = base.replace("http://", "ws://")
        self.hub = hub
        self.settings = settings

    async def submit(self, count: int = 1) -> dict[str, Any]:
        buf = io.BytesIO()
        Image.new("RGB", (32, 24), (200, 200, 200)).save(buf, format="PNG")
        files = [("images", (f"c{i}.png", buf.getvalue(), "image/png")) for i in range(count)]
        async with httpx.AsyncClient(base_url=self.base) as client:
            response = await client.post("/api/recognition/tasks", files=files)
            assert response.status_code == 202, response.text
            return dict(response.json())

    async def post(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base) as client:
            return await client.post(path)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    container = api_container(settings)
    app = create_app(container)
    port = free_port()
    # Configured as `kartoteka api` runs it: the WebSocket message limit is part of what is tested.
    server = uvicorn.Server(uvicorn_config(app, settings, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay(settings, stop))
    try:
        while not server.started:
            if serving.done():
                raise AssertionError(f"uvicorn did not start: {serving.exception()!r}")
            await asyncio.sleep(0.05)
        yield Service(f"http://127.0.0.1:{port}", await container.get(LiveHub), settings)
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.wait_for(asyncio.gather(serving, relay, return_exceptions=True), timeout=30)
        await container.close()


async def receive(
    ws: Any, kind: str | None = None, within: float = 15, seen: list[dict[str, Any]] | None = None, **match: Any
) -> dict[str, Any]:
    """The next frame of ``kind`` whose fields equal ``match``; frames skipped on the way go to ``seen``."""

    async def next_frame() -> dict[str, Any]:
        while True:
            frame = dict(json.loads(await ws.recv()))
            if (kind is None or frame.get("type") == kind) and all(frame.get(k) == v for k, v in match.items()):
                return frame
            if seen is not None:
                seen.append(frame)

    return await asyncio.wait_for(next_frame(), within)


async def test_subscribe_snapshot_then_status_and_progress_events(service: Service) -> None:
    task = (await service.submit())["tasks"][0]
    async with websockets.connect(service.ws + "/api/ws") as ws:
        await ws.send(json.dumps({"op": "subscribe", "tasks": [task["id"]]}))
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot"
        assert [t["id"] for t in snapshot["tasks"]] == [task["id"]]
        assert snapshot["tasks"][0]["status"] == "queued"

        from redis.asyncio import Redis

        redis = Redis.from_url(service.settings.redis.url)
        await RedisProgressFeed(redis).publish(uuid.UUID(task["id"]), 1, Progress("reading", 2, 7))
        await redis.aclose()
        progress = await receive(ws, "task.progress")
        assert (progress["done"], progress["total"]) == (2, 7)

        assert (await service.post(f"/api/recognition/tasks/{task['id']}/cancel")).status_code == 200
        status = await receive(ws, "task.status", status="cancelled")
        assert status["task"]["status"] == "cancelled"
        assert status["task"]["id"] == task["id"]


async def test_batch_subscription_and_unsubscribe(service: Service) -> None:
    submitted = await service.submit(2)
    ids = sorted(t["id"] for t in submitted["tasks"])
    async with websockets.connect(service.ws + "/api/ws") as ws:
        await ws.send(json.dumps({"op": "subscribe", "batch": submitted["batch"]["id"]}))
        snapshot = await receive(ws, "snapshot")
        assert sorted(t["id"] for t in snapshot["tasks"]) == ids
        await ws.send(json.dumps({"op": "unsubscribe", "tasks": [ids[0]]}))
        await receive(ws, "unsubscribed")
        await service.post(f"/api/recognition/tasks/{ids[0]}/cancel")
        await service.post(f"/api/recognition/tasks/{ids[1]}/cancel")
        skipped: list[dict[str, Any]] = []
        await receive(ws, "task.status", seen=skipped, task_id=ids[1], status="cancelled")
        assert all(f.get("task_id") != ids[0] for f in skipped)  # the unsubscribed task sent nothing


async def test_malformed_frames_get_error_frames_and_the_socket_stays(service: Service) -> None:
    async with websockets.connect(service.ws + "/api/ws") as ws:
        for bad in (
            "not json",
            json.dumps([1]),
            json.dumps({"op": "dance"}),
            json.dumps({"op": "subscribe", "tasks": ["x"]}),
        ):
            await ws.send(bad)
            frame = await receive(ws)
            assert frame["type"] == "error"
            assert frame["error"]
        await ws.send(json.dumps({"op": "ping"}))
        assert (await receive(ws))["type"] == "pong"


async def test_closing_a_socket_releases_its_subscriptions(service: Service) -> None:
    task = (await service.submit())["tasks"][0]
    before = service.hub.watched
    async with websockets.connect(service.ws + "/api/ws") as ws:
        await ws.send(json.dumps({"op": "subscribe", "tasks": [task["id"]]}))
        await receive(ws, "snapshot")
        assert service.hub.watched == before + 1

    async def released() -> None:
        while service.hub.watched != before:  # noqa: ASYNC110  (a condition polled under a deadline)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(released(), timeout=10)


async def test_legacy_status_socket(service: Service) -> None:
    task = (await service.submit())["tasks"][0]
    async with websockets.connect(service.ws + "/task/status") as ws:
        await ws.send(json.dumps({"id": task["id"]}))
        assert json.loads(await ws.recv()) == {"id": task["id"], "status": {"type": "created"}}
        await ws.send("garbage")
        assert "error" in json.loads(await ws.recv())  # an error frame, not a dropped connection
        await service.post(f"/api/recognition/tasks/{task['id']}/cancel")

        async def until_cancelled() -> dict[str, Any]:
            while True:  # a late "created" push for the submission may come first
                pushed = dict(json.loads(await ws.recv()))
                if pushed["status"]["type"] != "created":
                    return pushed

        pushed = await asyncio.wait_for(until_cancelled(), 15)
        assert pushed == {"id": task["id"], "status": {"type": "cancelled"}}


async def test_a_correction_is_pushed_to_subscribers(service: Service) -> None:
    task = (await service.submit())["tasks"][0]
    await finish_task(service.settings.database.url, task["id"])
    async with (
        websockets.connect(service.ws + "/api/ws") as ws,
        websockets.connect(service.ws + "/task/status") as legacy,
    ):
        await ws.send(json.dumps({"op": "subscribe", "tasks": [task["id"]]}))
        assert (await receive(ws, "snapshot"))["tasks"][0]["revision"] == 0
        await legacy.send(json.dumps({"id": task["id"]}))
        assert json.loads(await legacy.recv())["status"]["type"] == "completed"

        async with httpx.AsyncClient(base_url=service.base) as client:
            edited = await client.patch(
                f"/api/recognition/tasks/{task['id']}/transcript",
                json={"edits": [{"op": "replace_text", "text": "Ма\u0301тушка\nпришла"}]},
                headers={"If-Match": '"0"'},
            )
            assert edited.status_code == 200, edited.text

        pushed = await receive(ws, "task.transcript", revision=1)
        assert (pushed["task_id"], pushed["author"], pushed["status"]) == (task["id"], "anonymous", "completed")
        assert pushed["task"]["revision"] == 1
        assert pushed["task"]["text"] == "Ма\u0301тушка\nпришла"

        async def legacy_text() -> dict[str, Any]:
            while True:  # a late push for the completion may come first
                frame = dict(json.loads(await legacy.recv()))
                if frame["status"].get("text") == "Ма\u0301тушка\nпришла":
                    return frame

        assert (await asyncio.wait_for(legacy_text(), 15))["status"]["type"] == "completed"


async def test_hostile_frames_get_error_frames_and_the_socket_stays(service: Service) -> None:
    """Binary, nested past the parser, nested ids, too long to parse: each an error frame, the socket open."""
    async with websockets.connect(service.ws + "/api/ws") as ws:
        for bad, status in (
            (b"\x00\x01binary", 400),
            ("[" * 30_000 + "]" * 30_000, 400),  # deeper than json.loads goes, shorter than a frame may be
            (json.dumps({"op": "subscribe", "tasks": [[[[["x"]]]]]}), 400),
            (json.dumps({"op": "subscribe", "tasks": ["x" * (MAX_FRAME_CHARS + 1)]}), 413),
        ):
            await ws.send(bad)
            frame = await receive(ws)
            assert (frame["type"], frame["status"]) == ("error", status), frame
            assert frame["error"]
        await ws.send(json.dumps({"op": "ping"}))
        assert (await receive(ws))["type"] == "pong"
    async with websockets.connect(service.ws + "/task/status") as legacy:
        await legacy.send(b"\x00binary")
        assert set(json.loads(await legacy.recv())) == {"error", "detail"}
        await legacy.send("[" * 30_000 + "]" * 30_000)
        assert "error" in json.loads(await legacy.recv())
        task = (await service.submit())["tasks"][0]
        await legacy.send(json.dumps({"id": task["id"]}))
        assert json.loads(await legacy.recv())["id"] == task["id"]


def _ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


async def test_task_ids_are_capped_per_frame_and_per_socket(service: Service) -> None:
    async with websockets.connect(service.ws + "/api/ws", max_size=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "tasks": _ids(MAX_IDS_PER_FRAME + 1)}))
        refused = await receive(ws)
        assert (refused["type"], refused["status"]) == ("error", 413)
        assert refused["detail"]["max_ids_per_frame"] == MAX_IDS_PER_FRAME
        assert service.hub.watched == 0  # nothing of a refused frame is followed

        for _ in range(MAX_IDS_PER_SOCKET // MAX_IDS_PER_FRAME):
            await ws.send(json.dumps({"op": "subscribe", "tasks": _ids(MAX_IDS_PER_FRAME)}))
            assert len((await receive(ws, "snapshot"))["missing"]) == MAX_IDS_PER_FRAME
        await ws.send(json.dumps({"op": "subscribe", "tasks": _ids(1)}))
        full = await receive(ws)
        assert (full["type"], full["status"]) == ("error", 413)
        assert full["detail"]["max_ids_per_socket"] == MAX_IDS_PER_SOCKET
        assert service.hub.watched == MAX_IDS_PER_SOCKET

        await ws.send(json.dumps({"op": "ping"}))
        assert (await receive(ws))["type"] == "pong"


async def test_a_message_past_the_server_limit_closes_the_socket_with_1009(service: Service) -> None:
    async with websockets.connect(service.ws + "/api/ws", max_size=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "tasks": ["0" * MAX_MESSAGE_BYTES]}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big: refused by the server before it is read in full
