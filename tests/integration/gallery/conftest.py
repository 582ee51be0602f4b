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
        "database": {"url": database_url},
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
async def running_gallery(settings: Settings) -> AsyncIterator[Gallery]:
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis.url)
    await redis.flushdb()  # jobs left by an earlier test would be taken by this worker
    await redis.aclose()
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay(settings, stop))
    worker = asyncio.create_task(run_worker(settings, ["embedding"], stop))
    container = api_container(settings)
    transport = httpx.ASGITransport(app=create_app(container), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka", timeout=60) as client:
            gallery = Gallery(client, settings)

            async def ready() -> bool:
                if worker.done():
                    worker.result()  # a failed start-up raises here
                response = await client.get("/api/images/index")
                return response.status_code == 200 and response.json()["searchable"] is not None

            await eventually(ready, 120, "the embedding worker to register its model")
            yield gallery
    finally:
        stop.set()
        await container.close()
        for task in (relay, worker):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 60)


@pytest.fixture
async def gallery(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> AsyncIterator[Gallery]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(migrated_database)
    async with engine.begin() as conn:  # each test starts with an empty gallery
        for table in ("gallery_images", "gallery_directories", "embedding_models", "outbox"):
            await conn.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()
    async with running_gallery(gallery_settings(migrated_database, s3_server, redis_server)) as g:
        yield g
