"""RedisLiveSubscription: one pub/sub subscription per api process for every live message.

Task status, corrections, progress and the gallery's events arrive on one
connection, decoded into their typed messages; a malformed publication is
skipped. A lost connection is re-established after a pause, and ``subscribed``
says whether messages published now will arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kartoteka.application.shared.live_messages import Channel, LiveMessage, decode
from kartoteka.infrastructure.messaging.redis_publisher import channel_for

log = logging.getLogger(__name__)

LIVE_CHANNELS = (Channel.STATUS, Channel.PROGRESS, Channel.GALLERY)


class RedisLiveSubscription:
    def __init__(self, redis: Redis, retry_delay_s: float = 1.0) -> None:
        self._redis = redis
        self._retry_delay_s = retry_delay_s
        self._subscribed = asyncio.Event()

    @property
    def subscribed(self) -> asyncio.Event:
        return self._subscribed

    async def messages(self) -> AsyncIterator[LiveMessage]:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*(channel_for(c) for c in LIVE_CHANNELS))
                self._subscribed.set()
                while True:
                    # Shorter than the client's socket read timeout (5 s by default in redis-py 8),
                    # so an idle channel is not mistaken for a lost connection.
                    raw = await pubsub.get_message(timeout=1.0)
                    if raw is None or raw.get("type") != "message":
                        continue
                    try:
                        payload = json.loads(raw["data"])
                    except (ValueError, TypeError):
                        log.warning("ignoring a malformed live message on %s", raw.get("channel"))
                        continue
                    message = decode(payload) if isinstance(payload, dict) else None
                    if message is not None:
                        yield message
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning("live messages: redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(self._retry_delay_s)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
