"""The RabbitMQ that ``serve`` starts when rabbitmq-server is installed: durable messages survive a restart."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from kartoteka.infrastructure.embedded.network import free_port_block
from kartoteka.infrastructure.embedded.rabbitmq import EmbeddedRabbitMQ, answers_amqp, rabbitmq_installed


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kartoteka-rabbit-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_durable_queue_survives_a_restart_and_stop_leaves_nothing_listening(data_dir: Path) -> None:
    assert rabbitmq_installed(), "scripts/bootstrap.sh installs rabbitmq-server"
    port = free_port_block([0, 1, 2])
    broker = EmbeddedRabbitMQ(data_dir, port)
    broker.start()
    try:
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("kartoteka.test", durable=True)
            message = aio_pika.Message(b"card", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=queue.name)
    finally:
        broker.stop()
    assert not answers_amqp("127.0.0.1", port)

    again = EmbeddedRabbitMQ(data_dir, port)
    again.start()
    try:
        connection = await aio_pika.connect(again.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("kartoteka.test", durable=True)
            received = await queue.get(timeout=10)
            assert received.body == b"card"
            await received.ack()
    finally:
        again.stop()
