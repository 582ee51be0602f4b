"""RabbitIntegrationPublisher: integration events on a durable RabbitMQ topic exchange.

Other services bind their own durable queues to ``kartoteka.events`` with
routing keys such as ``recognition.task.*``; messages are persistent and
confirmed by the broker before the relay deletes the outbox row.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import AMQPError

from kartoteka.application.shared.outbox import DestinationUnavailableError, OutboundMessage

EXCHANGE = "kartoteka.events"


class RabbitIntegrationPublisher:
    def __init__(self, url: str, exchange: str = EXCHANGE) -> None:
        self._url = url
        self._exchange_name = exchange
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def _ensure(self) -> AbstractExchange:
        if self._exchange is None:
            self._connection = await aio_pika.connect_robust(self._url, timeout=10)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self._exchange

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        try:
            exchange = await self._ensure()
            for m in messages:
                await exchange.publish(
                    aio_pika.Message(
                        json.dumps(m.payload, ensure_ascii=False).encode(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=m.key,
                )
        except (AMQPError, OSError, TimeoutError) as exc:
            await self.close()
            raise DestinationUnavailableError(f"rabbitmq: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(AMQPError, OSError):
                await connection.close()
