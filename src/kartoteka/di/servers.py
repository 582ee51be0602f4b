"""Connections every process kind holds: PostgreSQL, Redis, S3; the system clock and ids; units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from dishka import Provider, Scope, from_context, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.ports.store import GalleryUnitOfWork
from kartoteka.application.identity.ports import IdentityUnitOfWork
from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.infrastructure.clock import RandomIds, SystemClock
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.identity.unit_of_work import SqlIdentityUnitOfWork
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage


class ServersProvider(Provider):
    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    clock = provide(SystemClock, provides=Clock)
    new_id = provide(RandomIds, provides=NewId)

    @provide
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database)
        yield engine
        await engine.dispose()

    @provide
    async def redis(self, settings: Settings) -> AsyncIterator[Redis]:
        client = Redis.from_url(settings.redis.url)
        yield client
        await client.aclose()

    @provide
    async def storage(self, settings: Settings) -> AsyncIterator[ObjectStorage]:
        storage = S3ObjectStorage(settings.s3)
        try:
            await storage.ensure_bucket()
        except BaseException:
            await storage.close()
            raise
        yield storage
        await storage.close()

    # A unit of work is one transaction: use cases open a fresh one for each.

    @provide
    def retry_policy(self, settings: Settings) -> RetryPolicy:
        b = settings.broker
        return RetryPolicy(
            max_runs=b.max_retries + 1,
            backoff_base_s=b.retry_backoff_s,
            backoff_max_s=b.retry_backoff_max_s,
            lease_s=b.lease_s,
        )

    @provide
    def tasks(self, engine: AsyncEngine) -> Callable[[], UnitOfWork]:
        return lambda: SqlUnitOfWork(engine, messages_for)

    @provide
    def gallery(self, engine: AsyncEngine) -> Callable[[], GalleryUnitOfWork]:
        return lambda: SqlGalleryUnitOfWork(engine)

    @provide
    def identity(self, engine: AsyncEngine) -> Callable[[], IdentityUnitOfWork]:
        return lambda: SqlIdentityUnitOfWork(engine)
