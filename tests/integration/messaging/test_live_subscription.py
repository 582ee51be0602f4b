"""One subscription hears every live message, typed, whoever published it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

from redis.asyncio import Redis

from kartoteka.application.shared.live_messages import (
    Channel,
    FileCreatedEvent,
    LiveMessage,
    TaskProgressed,
    TaskStatusChanged,
    encode,
)
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.domain.recognition.task import Progress
from kartoteka.infrastructure.messaging.live_subscription import RedisLiveSubscription
from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed
from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher, channel_for
from tests.harness.redis import RedisServer


async def test_status_progress_and_gallery_messages_arrive_typed_and_in_order(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    source = RedisLiveSubscription(redis)
    received: list[LiveMessage] = []
    three = asyncio.Event()

    async def listen() -> None:
        async for message in source.messages():
            received.append(message)
            if len(received) == 3:
                three.set()

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(source.subscribed.wait(), 10)
        task_id, now = uuid4(), datetime.now(UTC)
        status = TaskStatusChanged(task_id, 1, "running", now)
        created = FileCreatedEvent("cards/a.png", now)
        channels = RedisChannelPublisher(redis)
        await channels.publish([OutboundMessage(Channel.STATUS, str(task_id), encode(status))])
        await redis.publish(channel_for(Channel.STATUS), json.dumps({"type": "task.status", "task_id": "garbage"}))
        await redis.publish(channel_for(Channel.STATUS), b"\xff not json")
        await RedisProgressFeed(redis).publish(task_id, 1, Progress("reading", 1, 4))
        await channels.publish([OutboundMessage(Channel.GALLERY, "FileCreatedEvent", encode(created))])

        await asyncio.wait_for(three.wait(), 10)
        assert received == [status, TaskProgressed(task_id, 1, "reading", 1, 4), created]
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await redis.aclose()
    assert not source.subscribed.is_set()
