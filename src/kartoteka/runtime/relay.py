"""``kartoteka relay``: deliver outbox rows until told to stop."""

from __future__ import annotations

import asyncio

from kartoteka.di import relay_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.relay import OutboxRelay


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    container = relay_container(settings)
    try:
        relay = await container.get(OutboxRelay)
        await relay.run(stop)
    finally:
        await container.close()
