"""RedisChannelPublisher: status events and cancellation signals over Redis pub/sub.

Pub/sub loses messages nobody is subscribed to, which is fine here: these are
wake-ups and progress for whoever watches now. A watcher that (re)subscribes
reads the task from PostgreSQL first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kartoteka.application.shared.outbox import DestinationUnavailableError, OutboundMessage

CHANNEL_PREFIX = "kartoteka:"


def channel_for(destination: str) -> str:
    return CHANNEL_PREFIX + destination


class RedisChannelPublisher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for m in messages:
                    pipe.publish(channel_for(m.destination), json.dumps(m.payload, ensure_ascii=False))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DestinationUnavailableError(f"redis: {exc}") from exc
