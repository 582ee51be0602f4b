"""Jobs kicked by name reach a worker-side broker, over RabbitMQ and over Redis."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from taskiq import AsyncBroker

from kartoteka.application.recognition.outbox_messages import RECOGNIZE_JOB
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.infrastructure.config.settings import BrokerSettings
from kartoteka.infrastructure.messaging.jobs import TaskiqJobPublisher, make_broker
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer


async def receive_one(worker: AsyncBroker) -> tuple[str, list[object]]:
    async for message in worker.listen():
        data = message.data if hasattr(message, "data") else message
        parsed = worker.formatter.loads(data)
        if hasattr(message, "ack"):
            ack = message.ack()
            if asyncio.iscoroutine(ack):
                await ack
        return parsed.task_name, list(parsed.args)
    raise AssertionError("listen() ended")


@pytest.mark.parametrize("kind", ["rabbitmq", "redis"])
async def test_kicked_job_arrives_with_task_name_and_arguments(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "rabbitmq":
        server: RabbitMQServer = request.getfixturevalue("rabbitmq_server")
        settings = BrokerSettings(url=server.url)
        redis_url = "redis://unused"
    else:
        redis: RedisServer = request.getfixturevalue("redis_server")
        settings = BrokerSettings(url=None)
        # A database of its own: other tests leave unconsumed jobs on the shared server's default one.
        redis_url = redis.url.rsplit("/", 1)[0] + "/7"
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        await client.flushdb()
        await client.aclose()
    sender = make_broker(settings, redis_url)
    worker = make_broker(settings, redis_url)
    worker.is_worker_process = True
    await worker.startup()
    await sender.startup()
    try:
        task_id = str(uuid4())
        await TaskiqJobPublisher(sender).publish(
            [OutboundMessage("recognition.jobs", task_id, {"task_id": task_id, "attempt": 2})]
        )
        name, args = await asyncio.wait_for(receive_one(worker), timeout=20)
        assert (name, args) == (RECOGNIZE_JOB, [task_id, 2])
    finally:
        await sender.shutdown()
        await worker.shutdown()
