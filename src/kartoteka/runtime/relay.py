"""``kartoteka relay``: deliver outbox rows until told to stop."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from kartoteka.application.gallery.outbox_messages import CARD_JOBS, EMBED_JOBS, GALLERY_EVENTS
from kartoteka.application.recognition.outbox_messages import CANCELLATIONS, INTEGRATION, JOBS, STATUS
from kartoteka.application.shared.outbox import MessagePublisher
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.messaging.jobs import ROUTES, TaskiqJobPublisher, job_brokers
from kartoteka.infrastructure.messaging.rabbit_publisher import RabbitIntegrationPublisher
from kartoteka.infrastructure.messaging.redis_publisher import RedisChannelPublisher
from kartoteka.infrastructure.messaging.relay import OutboxRelay


def listen_dsn(database_url: str) -> str:
    """The plain libpq form of the SQLAlchemy URL, for the LISTEN connection."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    engine = create_engine(settings.database)
    redis = Redis.from_url(settings.redis.url)
    brokers = job_brokers(settings.broker, settings.redis.url)
    for broker in set(brokers.values()):
        await broker.startup()
    channels = RedisChannelPublisher(redis)
    integration: MessagePublisher = RabbitIntegrationPublisher(settings.broker.url) if settings.broker.url else channels
    publishers: dict[str, MessagePublisher] = {
        JOBS: TaskiqJobPublisher(brokers, ROUTES[JOBS]),
        EMBED_JOBS: TaskiqJobPublisher(brokers, ROUTES[EMBED_JOBS]),
        CARD_JOBS: TaskiqJobPublisher(brokers, ROUTES[CARD_JOBS]),
        GALLERY_EVENTS: channels,
        STATUS: channels,
        CANCELLATIONS: channels,
        INTEGRATION: integration,
    }
    try:
        await OutboxRelay(engine, publishers, listen_dsn=listen_dsn(settings.database.url)).run(stop)
    finally:
        if isinstance(integration, RabbitIntegrationPublisher):
            await integration.close()
        for broker in set(brokers.values()):
            await broker.shutdown()
        await redis.aclose()
        await engine.dispose()
