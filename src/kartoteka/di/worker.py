"""The worker's brokers: one per queue it consumes, with that queue's tasks registered."""

from __future__ import annotations

from dataclasses import dataclass

from dishka import Provider, Scope, from_context, provide
from taskiq import AsyncBroker

from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.jobs import make_broker
from kartoteka.presentation.worker.embedding import register_embedding_tasks
from kartoteka.presentation.worker.tasks import register_recognition_tasks


@dataclass(frozen=True, slots=True)
class WorkerQueues:
    """The queues this worker process consumes (``kartoteka worker --queues``)."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConsumerBrokers:
    """Queue name → the broker consuming it. Each queue has a broker of its own, which is how
    TaskIQ's Redis list broker (one list per broker) serves several queues too."""

    by_queue: dict[str, AsyncBroker]


class WorkerBrokersProvider(Provider):
    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)
    queues = from_context(provides=WorkerQueues, scope=Scope.APP)

    @provide
    def brokers(self, settings: Settings, queues: WorkerQueues) -> ConsumerBrokers:
        return ConsumerBrokers({queue: _broker(settings, queue) for queue in queues.names})


def _broker(settings: Settings, queue: str) -> AsyncBroker:
    broker = make_broker(settings.broker, settings.redis.url, (queue,), results=queue == "embedding")
    # No TaskIQ retry middleware: retries, time limits and leases are ProcessCard's and the sweeper's.
    if queue == "recognition":
        register_recognition_tasks(broker)
    else:
        register_embedding_tasks(broker)
    broker.is_worker_process = True
    return broker
