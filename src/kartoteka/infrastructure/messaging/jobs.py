"""Job queues on TaskIQ: RabbitMQ when configured, else TaskIQ's Redis list broker.

The relay kicks jobs by task name, so it never imports the worker's code (or
its model libraries); each queue is its own RabbitMQ queue, so a GPU machine
can run a worker for one queue only.
"""

from __future__ import annotations

from collections.abc import Sequence

from aio_pika.exceptions import AMQPError
from redis.exceptions import RedisError
from taskiq import AsyncBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq_aio_pika import AioPikaBroker
from taskiq_aio_pika.exchange import Exchange
from taskiq_aio_pika.queue import Queue, QueueType
from taskiq_redis import ListQueueBroker

from kartoteka.application.ports.messaging import DestinationUnavailableError, PublishError
from kartoteka.application.ports.unit_of_work import OutboundMessage
from kartoteka.application.recognition.messages import RECOGNIZE_JOB
from kartoteka.infrastructure.config.settings import BrokerSettings

QUEUES = {"recognition": "kartoteka.recognition", "embedding": "kartoteka.embedding"}
ROUTING_LABEL = "queue_name"


def make_broker(settings: BrokerSettings, redis_url: str, queues: Sequence[str] = ("recognition",)) -> AsyncBroker:
    """A broker consuming ``queues`` (by short name); any broker can kick to every queue."""
    names = [QUEUES[q] for q in queues]
    if settings.url:
        return AioPikaBroker(
            settings.url,
            qos=settings.prefetch,
            exchange=Exchange(name="kartoteka.jobs"),
            task_queues=[Queue(name=n, type=QueueType.QUORUM, routing_key=n) for n in names],
            label_for_routing=ROUTING_LABEL,
        )
    # The Redis list broker consumes one list; workers of each queue kind run separately.
    # BRPOP blocks until a job arrives: no socket read timeout (redis-py 8 defaults to 5 s).
    return ListQueueBroker(redis_url, queue_name=names[0], socket_timeout=None)


class TaskiqJobPublisher:
    """Relay side: turns ``recognition.jobs`` outbox rows into persistent TaskIQ messages."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        kicker: AsyncKicker[..., None] = AsyncKicker(
            RECOGNIZE_JOB, self._broker, labels={ROUTING_LABEL: QUEUES["recognition"]}
        )
        try:
            for m in messages:
                await kicker.kiq(str(m.payload["task_id"]), int(m.payload["attempt"]))
        except SendTaskError as exc:
            # TaskIQ wraps whatever the broker raised. The arguments are a string and an integer, so
            # nothing here can fail to serialise: any failure to send is the broker being out of reach
            # (connection refused, a channel closed by a restart, a reconnect still under way).
            cause = exc.__cause__ or exc
            if isinstance(cause, TypeError | ValueError) and not isinstance(cause, OSError):
                raise PublishError(f"job broker refused the message: {cause}") from exc
            raise DestinationUnavailableError(f"job broker: {type(cause).__name__}: {cause}") from exc
        except (OSError, TimeoutError, AMQPError, RedisError) as exc:
            raise DestinationUnavailableError(f"job broker: {type(exc).__name__}: {exc}") from exc
