"""The gallery as deployed, in one process: the api over ASGI, the relay and an embedding worker as tasks.

Real PostgreSQL, Redis and S3; the real offline encoder (EfficientNet-Lite0 with its packaged ImageNet
weights). Jobs go through TaskIQ's Redis list broker on a Redis database of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from kartoteka.runtime.relay import run_relay
from kartoteka.runtime.worker import run_worker
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Gallery:
    client: httpx.AsyncClient
    settings: Settings
    app: FastAPI

    async def upload(self, name: str, data: bytes, directory: str = ".") -> dict[str, Any]:
        response = await self.client.post(
            "/api/images/", files={"image": (name, data, "image/png")}, data={"directory": directory}
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["image"])

    async def indexed(self, within_s: float = 180) -> None:
        async def done() -> bool:
            response = await self.client.get("/api/images/index")
            state = response.json().get("searchable") if response.status_code == 200 else None
            return state is not None and state["pending"] == 0

        await eventually(done, within_s, "every image to be embedded")


def gallery_settings(database_url: str, s3: S3Server, redis: RedisServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        # Generous: the first test of a run imports torch on the worker's thread while the api connects.
        "database": {"url": database_url, "connect_timeout_s": 60},
        "s3": {
            "endpoint": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
            "region": s3.region,
            "bucket": f"gallery-{uuid.uuid4().hex[:8]}",
        },
        "redis": {"url": redis.url.rsplit("/", 1)[0] + "/9"},
        "inference": {"device": "cpu"},
    }
    for section, changes in overrides.items():
        values.setdefault(section, {}).update(changes)
    return Settings.model_validate(values)


@contextlib.asynccontextmanager
async def gallery_processes(settings: Settings, *, with_worker: bool = True) -> AsyncIterator[list[asyncio.Task[None]]]:
    """What runs beside the api: the relay and (unless ``with_worker`` is false) an embedding worker."""
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis.url)
    await redis.flushdb()  # jobs left by an earlier test would be taken by this worker
    await redis.aclose()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_relay(settings, stop))]
    if with_worker:
        tasks.append(asyncio.create_task(run_worker(settings, ["embedding"], stop)))
    try:
        yield tasks
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 60)


async def searchable(client: httpx.AsyncClient, tasks: list[asyncio.Task[None]]) -> None:
    """Until the worker has registered its model: searches have an index to use."""

    async def ready() -> bool:
        for task in tasks:
            if task.done():
                task.result()  # a failed start-up raises here
        response = await client.get("/api/images/index")
        return response.status_code == 200 and response.json()["searchable"] is not None

    await eventually(ready, 120, "the embedding worker to register its model")


@contextlib.asynccontextmanager
async def running_gallery(settings: Settings, *, with_worker: bool = True) -> AsyncIterator[Gallery]:
    """The api, the relay and (unless ``with_worker`` is false) an embedding worker."""
    async with gallery_processes(settings, with_worker=with_worker) as tasks:
        container = api_container(settings)
        app = create_app(container)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka", timeout=60) as client:
                if with_worker:
                    await searchable(client, tasks)
                yield Gallery(client, settings, app)
        finally:
            await container.close()


async def empty_gallery(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.begin() as conn:  # each test starts with an empty gallery
        for table in ("gallery_images", "gallery_directories", "embedding_models", "outbox"):
            await conn.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()


@contextlib.asynccontextmanager
async def watching(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """The watcher of ``settings``' roots beside the running gallery; a watcher that failed raises on exit."""
    from kartoteka.runtime.watcher import run_watcher

    stop = asyncio.Event()
    watcher = asyncio.create_task(run_watcher(settings, stop))
    try:
        yield watcher
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 30)


@pytest.fixture
async def gallery(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> AsyncIterator[Gallery]:
    await empty_gallery(migrated_database)
    async with running_gallery(gallery_settings(migrated_database, s3_server, redis_server)) as g:
        yield g
