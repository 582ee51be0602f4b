"""``kartoteka relay``: deliver outbox rows and sweep for stuck work until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kartoteka.application.recognition.sweep_tasks import SweepTasks
from kartoteka.di import relay_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.relay import OutboxRelay

log = logging.getLogger(__name__)


async def sweep_until(sweep: SweepTasks, interval_s: float, stop: asyncio.Event) -> None:
    """Sweep every ``interval_s`` (batch after batch while there is more); an outage only skips a sweep."""
    while not stop.is_set():
        try:
            put_back = 0
            while True:
                report = await sweep()
                put_back += report.put_back
                if report.looked_at < sweep.batch_size:
                    break
            if put_back:
                log.info("sweeper put back %d tasks", put_back)
        except Exception as exc:
            log.warning("sweep skipped: %s: %s", type(exc).__name__, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    container = relay_container(settings)
    try:
        relay = await container.get(OutboxRelay)
        sweep = await container.get(SweepTasks)
        await asyncio.gather(relay.run(stop), sweep_until(sweep, settings.broker.sweep_interval_s, stop))
    finally:
        await container.close()
