"""Job queues on TaskIQ: RabbitMQ when configured, else TaskIQ's Redis list broker.

The relay kicks jobs by task name, so it never imports the worker's code (or
its model libraries); each queue is its own RabbitMQ queue, so a GPU machine
can run a worker for one queue only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aio_pika.exceptions import AMQPError
from redis.exceptions import RedisError
from taskiq import AsyncBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq_aio_pika import AioPikaBroker
from taskiq_aio_pika.exchange import Exchange
from taskiq_aio_pika.queue import Queue, QueueType
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from kartoteka.application.gallery.outbox_messages import EMBED_JOB, EMBED_JOBS
from kartoteka.application.recognition.outbox_messages import CARD_JOBS, JOBS, RECOGNIZE_JOB, SYNC_CARD_JOB
from kartoteka.application.shared.outbox import DestinationUnavailableError, OutboundMessage, PublishError
from kartoteka.infrastructure.config.settings import BrokerSettings

QUEUES = {"recognition": "kartoteka.recognition", "embedding": "kartoteka.embedding"}
ROUTING_LABEL = "queue_name"


def make_broker(
    settings: BrokerSettings, redis_url: str, queues: Sequence[str] = ("recognition",), *, results: bool = False
) -> AsyncBroker:
    """A broker consuming ``queues`` (by short name); any broker can kick to every queue.

    ``results`` keeps job results in Redis for a minute, for the search queries the api waits on.
    """
    broker = _transport(settings, redis_url, [QUEUES[q] for q in queues])
    if results:
        broker = broker.with_result_backend(RedisAsyncResultBackend(redis_url, result_ex_time=60))
    return broker


def _transport(settings: BrokerSettings, redis_url: str, names: list[str]) -> AsyncBroker:
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


def job_brokers(settings: BrokerSettings, redis_url: str) -> dict[str, AsyncBroker]:
    """A sending broker per queue: one RabbitMQ broker declaring every queue, or one Redis list each.

    Declaring every queue where jobs are sent means a job for a queue no worker has started on yet
    waits in RabbitMQ instead of being dropped by an exchange with nowhere to route it.
    """
    if settings.url:
        shared = make_broker(settings, redis_url, tuple(QUEUES))
        return dict.fromkeys(QUEUES, shared)
    return {queue: make_broker(settings, redis_url, (queue,)) for queue in QUEUES}


@dataclass(frozen=True, slots=True)
class JobRoute:
    """How an outbox destination becomes a TaskIQ job: its task name, queue and arguments."""

    task_name: str
    queue: str
    arguments: Callable[[dict[str, Any]], tuple[Any, ...]]


ROUTES: dict[str, JobRoute] = {
    JOBS: JobRoute(RECOGNIZE_JOB, "recognition", lambda p: (str(p["task_id"]), int(p["attempt"]))),
    EMBED_JOBS: JobRoute(EMBED_JOB, "embedding", lambda p: ([str(i) for i in p["image_ids"]],)),
    CARD_JOBS: JobRoute(SYNC_CARD_JOB, "embedding", lambda p: (str(p["task_id"]),)),
}


class TaskiqJobPublisher:
    """Relay side: turns job rows of one outbox destination into persistent TaskIQ messages."""

    def __init__(self, brokers: Mapping[str, AsyncBroker] | AsyncBroker, route: JobRoute = ROUTES[JOBS]) -> None:
        broker = brokers[route.queue] if isinstance(brokers, Mapping) else brokers
        self._kicker: AsyncKicker[..., None] = AsyncKicker(
            route.task_name, broker, labels={ROUTING_LABEL: QUEUES[route.queue]}
        )
        self._route = route

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        try:
            for m in messages:
                await self._kicker.kiq(*self._route.arguments(m.payload))
        except SendTaskError as exc:
            # TaskIQ wraps whatever the broker raised. The arguments are strings and integers, so
            # nothing here can fail to serialise: any failure to send is the broker being out of reach
            # (connection refused, a channel closed by a restart, a reconnect still under way).
            cause = exc.__cause__ or exc
            if isinstance(cause, TypeError | ValueError) and not isinstance(cause, OSError):
                raise PublishError(f"job broker refused the message: {cause}") from exc
            raise DestinationUnavailableError(f"job broker: {type(cause).__name__}: {cause}") from exc
        except (OSError, TimeoutError, AMQPError, RedisError) as exc:
            raise DestinationUnavailableError(f"job broker: {type(exc).__name__}: {exc}") from exc
