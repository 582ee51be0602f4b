"""A search query's round trip from the api to an embedding worker and back, over TaskIQ.

The api never loads a model: it leaves the query image in Redis for a minute,
kicks a job on the ``embedding`` queue and waits for its result (TaskIQ's Redis
result backend). No answer in time is a 503, not a hung request.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import AsyncBroker
from taskiq.exceptions import TaskiqResultTimeoutError
from taskiq.kicker import AsyncKicker

from kartoteka.application.gallery.errors import EncoderUnavailableError, QueryNotUsableError
from kartoteka.application.gallery.outbox_messages import QUERY_JOB
from kartoteka.application.gallery.ports.embedding import EmbeddingModelId, ImageKind
from kartoteka.infrastructure.messaging.jobs import QUEUES, ROUTING_LABEL

STASH_PREFIX = "kartoteka:query:"


class RedisQueryInbox:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def leave(self, data: bytes, ttl_s: int) -> str:
        key = STASH_PREFIX + uuid4().hex
        await self._redis.set(key, data, ex=ttl_s)
        return key

    async def take(self, key: str) -> bytes | None:
        if not key.startswith(STASH_PREFIX):
            return None
        value = await self._redis.getdel(key)
        if value is None:
            return None
        return value if isinstance(value, bytes) else value.encode("latin-1")


class TaskiqQueryEncoder:
    """Started on the first query, so an api whose broker is down still serves everything else."""

    def __init__(self, broker: AsyncBroker, redis: Redis, timeout_s: float = 20.0) -> None:
        self._broker = broker
        self._kicker: AsyncKicker[..., Any] = AsyncKicker(
            QUERY_JOB, broker, labels={ROUTING_LABEL: QUEUES["embedding"]}
        )
        self._inbox = RedisQueryInbox(redis)
        self._timeout_s = timeout_s
        self._started = False
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self._broker.shutdown()

    async def _start(self) -> None:
        async with self._lock:
            if self._started:
                return
            try:
                await self._broker.startup()
            except Exception as exc:  # connection refused, authentication, a broker restarting
                raise EncoderUnavailableError(f"cannot reach the job broker: {type(exc).__name__}: {exc}") from exc
            self._started = True

    async def embed_image(self, data: bytes, kind: ImageKind, model: EmbeddingModelId) -> list[float]:
        try:
            key = await self._inbox.leave(data, ttl_s=int(self._timeout_s) + 60)
        except (RedisError, OSError) as exc:
            raise EncoderUnavailableError(f"redis: {exc}") from exc
        return await self._ask({"stash": key, "kind": kind.value, "model": [model.key, model.version]})

    async def embed_text(self, text: str, model: EmbeddingModelId) -> list[float]:
        return await self._ask({"text": text, "model": [model.key, model.version]})

    async def _ask(self, request: dict[str, Any]) -> list[float]:
        await self._start()
        try:
            # Bounded as a whole: a broker that is reconnecting may hold the send itself.
            async with asyncio.timeout(self._timeout_s + 1.0):
                task = await self._kicker.kiq(request)
                result = await task.wait_result(check_interval=0.01, timeout=self._timeout_s)
        except (TaskiqResultTimeoutError, TimeoutError):
            raise EncoderUnavailableError(f"no embedding worker answered within {self._timeout_s:g} s") from None
        except Exception as exc:  # the broker or the result store (Redis) went away on the way: a restart, a drop
            raise EncoderUnavailableError(f"cannot reach the embedding workers: {type(exc).__name__}: {exc}") from exc
        if result.is_err:
            raise EncoderUnavailableError(f"the embedding worker failed: {result.error}")
        answer: dict[str, Any] = result.return_value
        if answer.get("unusable"):
            raise QueryNotUsableError(str(answer["unusable"]))
        if answer.get("unavailable") or not answer.get("vector"):
            raise EncoderUnavailableError(str(answer.get("unavailable") or "the worker sent no vector"))
        return [float(x) for x in answer["vector"]]
