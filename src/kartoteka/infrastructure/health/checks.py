"""Dependency checks for ``/ready``: one cheap round trip to each server, with a deadline."""

from __future__ import annotations

import asyncio

import aio_pika
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.shared.storage import ObjectStorage

TIMEOUT_S = 3.0


class DatabaseCheck:
    name = "database"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> None:
        async def probe() -> None:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        await asyncio.wait_for(probe(), TIMEOUT_S)


class RedisCheck:
    name = "redis"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def check(self) -> None:
        await asyncio.wait_for(self._redis.ping(), TIMEOUT_S)


class StorageCheck:
    name = "storage"

    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    async def check(self) -> None:
        await asyncio.wait_for(self._storage.ping(), TIMEOUT_S)


class RabbitCheck:
    name = "broker"

    def __init__(self, url: str) -> None:
        self._url = url

    async def check(self) -> None:
        connection = await asyncio.wait_for(aio_pika.connect(self._url, timeout=TIMEOUT_S), TIMEOUT_S)
        await connection.close()
