"""RedisLiveEventSource: one pub/sub subscription per api process for status and progress events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kartoteka.application.gallery.outbox_messages import GALLERY_EVENTS
from kartoteka.application.recognition.outbox_messages import STATUS
from kartoteka.infrastructure.messaging.progress_feed import PROGRESS
from kartoteka.infrastructure.messaging.redis_publisher import channel_for

log = logging.getLogger(__name__)


class RedisLiveEventSource:
    def __init__(self, redis: Redis, retry_delay_s: float = 1.0) -> None:
        self._redis = redis
        self._retry_delay_s = retry_delay_s
        self.subscribed = asyncio.Event()  # set while a subscription is live (tests and readiness)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        channels = [channel_for(STATUS), channel_for(PROGRESS)]
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                self.subscribed.set()
                while True:
                    # Shorter than the client's socket read timeout (5 s by default in redis-py 8),
                    # so an idle channel is not mistaken for a lost connection.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (ValueError, TypeError):
                        log.warning("ignoring a malformed event on %s", message.get("channel"))
                        continue
                    if isinstance(event, dict) and "task_id" in event:
                        yield event
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("live events: redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(self._retry_delay_s)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


class RedisGalleryEventSource:
    """The ``gallery`` channel: file and indexing events for SSE streams and WebSockets."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.subscribed = asyncio.Event()  # set while a subscription is live: events from then on arrive

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel_for(GALLERY_EVENTS))
                self.subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    if isinstance(event, dict) and "event" in event and "data" in event:
                        yield event
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("gallery events: redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
