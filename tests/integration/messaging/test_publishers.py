"""Publishers against real Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest
from redis.asyncio import Redis

from kartoteka.application.shared.outbox import OutboundMessage, PublishError
from kartoteka.infrastructure.messaging.rabbit_publisher import EXCHANGE, RabbitIntegrationPublisher
from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher, channel_for
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer


async def test_redis_publisher_reaches_subscribers(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    sub = redis.pubsub()
    await sub.subscribe(channel_for("status"))
    try:
        confirmed = await sub.get_message(timeout=5)
        assert confirmed is not None
        assert confirmed["type"] == "subscribe"
        await RedisChannelPublisher(redis).publish(
            [OutboundMessage("status", "t1", {"status": "queued", "text": "Ба́тюшка"})]
        )
        message = await sub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None
        assert json.loads(message["data"]) == {"status": "queued", "text": "Ба́тюшка"}
    finally:
        await sub.aclose()
        await redis.aclose()


async def test_redis_publisher_down_raises_publish_error() -> None:
    redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)
    with pytest.raises(PublishError, match="redis"):
        await RedisChannelPublisher(redis).publish([OutboundMessage("status", "t", {})])
    await redis.aclose()


async def test_rabbit_publisher_delivers_persistent_messages_to_bound_queues(rabbitmq_server: RabbitMQServer) -> None:
    publisher = RabbitIntegrationPublisher(rabbitmq_server.url)
    connection = await aio_pika.connect_robust(rabbitmq_server.url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("test-integration", durable=True)
        await queue.bind(exchange, routing_key="recognition.task.*")
        await publisher.publish([OutboundMessage("integration", "recognition.task.completed", {"task_id": "x"})])
        message = await queue.get(timeout=5, fail=True)
        assert message is not None
        await message.ack()
        assert json.loads(message.body) == {"task_id": "x"}
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    finally:
        await publisher.close()
        await connection.close()


async def test_rabbit_publisher_down_raises_publish_error() -> None:
    publisher = RabbitIntegrationPublisher("amqp://guest:guest@127.0.0.1:9/")
    with pytest.raises(PublishError, match="rabbitmq"):
        await asyncio.wait_for(publisher.publish([OutboundMessage("integration", "k", {})]), timeout=30)


async def test_progress_feed_publishes_ticks_and_swallows_outages(redis_server: RedisServer) -> None:
    from uuid import uuid4

    from kartoteka.application.shared.live_messages import Channel
    from kartoteka.domain.recognition.task import Progress
    from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed

    redis = Redis.from_url(redis_server.url)
    sub = redis.pubsub()
    await sub.subscribe(channel_for(Channel.PROGRESS))
    try:
        assert (await sub.get_message(timeout=5) or {}).get("type") == "subscribe"
        task_id = uuid4()
        await RedisProgressFeed(redis).publish(task_id, 2, Progress("reading", 3, 30))
        message = await sub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None
        assert json.loads(message["data"]) == {
            "type": "task.progress",
            "task_id": str(task_id),
            "attempt": 2,
            "stage": "reading",
            "done": 3,
            "total": 30,
        }
    finally:
        await sub.aclose()
        await redis.aclose()
    down = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)
    await RedisProgressFeed(down).publish(uuid4(), 1, Progress("reading", 1, 2))  # logged, not raised
    await down.aclose()
