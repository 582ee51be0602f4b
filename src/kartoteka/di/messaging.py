"""Delivery: the outbox relay's publishers, and the api's live fan-out to sockets and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from dishka import Provider, Scope, from_context, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq import AsyncBroker

from kartoteka.application.gallery.outbox_messages import EMBED_JOBS
from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.gallery.sweep import ResendLostEmbeddings
from kartoteka.application.recognition.outbox_messages import CARD_JOBS, INTEGRATION, JOBS
from kartoteka.application.recognition.ports.task_reader import TaskReader
from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.recognition.sweep_tasks import SweepTasks
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.health import DependencyCheck
from kartoteka.application.shared.live_messages import Channel
from kartoteka.application.shared.outbox import MessagePublisher
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.application.shared.sweep_orphans import SweepOrphanObjects
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import listen_dsn
from kartoteka.infrastructure.db.object_owners import SqlObjectOwners
from kartoteka.infrastructure.health.checks import DatabaseCheck, RabbitCheck, RedisCheck, StorageCheck
from kartoteka.infrastructure.messaging.jobs import ROUTES, TaskiqJobPublisher, job_brokers
from kartoteka.infrastructure.messaging.live_subscription import RedisLiveSubscription
from kartoteka.infrastructure.messaging.rabbit_publisher import RabbitIntegrationPublisher
from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher
from kartoteka.infrastructure.messaging.relay import OutboxRelay
from kartoteka.presentation.http.live import LiveHub
from kartoteka.presentation.http.memory import MemoryReleaser

JobBrokers = Mapping[str, AsyncBroker]


class RelayProvider(Provider):
    """Every outbox destination and where the relay delivers it."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    async def job_brokers(self, settings: Settings) -> AsyncIterator[JobBrokers]:
        brokers = job_brokers(settings.broker, settings.redis.url)
        started: list[AsyncBroker] = []
        try:
            for broker in set(brokers.values()):
                await broker.startup()
                started.append(broker)
            yield brokers
        finally:
            for broker in started:
                await broker.shutdown()

    @provide
    async def relay(
        self, settings: Settings, engine: AsyncEngine, redis: Redis, brokers: JobBrokers
    ) -> AsyncIterator[OutboxRelay]:
        channels = RedisChannelPublisher(redis)
        rabbit = RabbitIntegrationPublisher(settings.broker.url) if settings.broker.url else None
        integration: MessagePublisher = rabbit if rabbit is not None else channels
        publishers: dict[str, MessagePublisher] = {
            JOBS: TaskiqJobPublisher(brokers, ROUTES[JOBS]),
            EMBED_JOBS: TaskiqJobPublisher(brokers, ROUTES[EMBED_JOBS]),
            CARD_JOBS: TaskiqJobPublisher(brokers, ROUTES[CARD_JOBS]),
            Channel.GALLERY: channels,
            Channel.STATUS: channels,
            Channel.CANCELLATIONS: channels,
            INTEGRATION: integration,
        }
        try:
            yield OutboxRelay(engine, publishers, listen_dsn=listen_dsn(settings.database.url))
        finally:
            if rabbit is not None:
                await rabbit.close()

    @provide
    def sweeper(
        self, settings: Settings, uow: Callable[[], UnitOfWork], clock: Clock, policy: RetryPolicy
    ) -> SweepTasks:
        return SweepTasks(uow, clock, policy, settings.broker.stuck_queued_s)

    @provide
    def embedding_sweeper(
        self, settings: Settings, uow: Callable[[], GalleryUnitOfWork], clock: Clock
    ) -> ResendLostEmbeddings:
        return ResendLostEmbeddings(uow, clock, settings.broker.stuck_queued_s, settings.embedding.batch_size)

    @provide
    def orphan_sweeper(
        self, settings: Settings, storage: ObjectStorage, engine: AsyncEngine, clock: Clock
    ) -> SweepOrphanObjects:
        return SweepOrphanObjects(storage, SqlObjectOwners(engine), clock, settings.broker.orphan_grace_s)


class LiveProvider(Provider):
    """One pub/sub subscription per api process, fanned out to its WebSockets and SSE streams."""

    scope = Scope.APP

    @provide
    def memory(self) -> MemoryReleaser:
        return MemoryReleaser()

    @provide
    async def live_hub(self, redis: Redis, reader: TaskReader) -> AsyncIterator[LiveHub]:
        hub = LiveHub(RedisLiveSubscription(redis), reader)
        yield hub
        await hub.stop()


class ReadinessProvider(Provider):
    """What ``/ready`` checks: every server this process needs."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def readiness(
        self, settings: Settings, engine: AsyncEngine, redis: Redis, storage: ObjectStorage
    ) -> list[DependencyCheck]:
        checks: list[DependencyCheck] = [DatabaseCheck(engine), RedisCheck(redis), StorageCheck(storage)]
        if settings.broker.url:
            checks.append(RabbitCheck(settings.broker.url))
        return checks
