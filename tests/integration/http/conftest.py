"""An api app wired to the harness's real servers, called in-process over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kartoteka.di import api_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.presentation.http.app import create_app
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server


def api_settings(database_url: str, s3: S3Server, redis: RedisServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": database_url},
        "s3": {
            "endpoint": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
            "region": s3.region,
            "bucket": f"api-{uuid.uuid4().hex[:8]}",
        },
        "redis": {"url": redis.url},
        "api": {"max_upload_bytes": 2_000_000, "max_files": 10},
    }
    for section, changes in overrides.items():
        values.setdefault(section, {}).update(changes)
    return Settings.model_validate(values)


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    container = api_container(settings)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka") as client:
            yield client
    finally:
        await container.close()


@pytest.fixture
def settings(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> Settings:
    return api_settings(migrated_database, s3_server, redis_server)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(settings):
        yield c
