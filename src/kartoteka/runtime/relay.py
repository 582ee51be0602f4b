"""``kartoteka relay``: deliver outbox rows, and sweep for lost or stuck work, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kartoteka.application.gallery.sweep import ResendLostEmbeddings
from kartoteka.application.recognition.sweep_tasks import SweepTasks
from kartoteka.application.shared.sweep_orphans import SweepOrphanObjects
from kartoteka.di import relay_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.relay import OutboxRelay
from kartoteka.infrastructure.observability.metrics import start_metrics_server

log = logging.getLogger(__name__)


async def sweep_once(tasks: SweepTasks, embeddings: ResendLostEmbeddings) -> tuple[int, int]:
    """Tasks batch after batch while there are more, then lost embedding jobs; how many of each were put back."""
    put_back = 0
    while True:
        report = await tasks()
        put_back += report.put_back
        if report.looked_at < tasks.batch_size:
            break
    return put_back, await embeddings()


async def sweep_until(
    tasks: SweepTasks, embeddings: ResendLostEmbeddings, interval_s: float, stop: asyncio.Event
) -> None:
    """Sweep every ``interval_s``; an outage only skips a sweep (the next one finds the same work)."""
    while not stop.is_set():
        try:
            put_back, images = await sweep_once(tasks, embeddings)
            if put_back:
                log.info("sweeper put back %d tasks", put_back)
            if images:
                log.info("sweeper sent the lost indexing jobs of %d images again", images)
        except Exception as exc:
            log.warning("sweep skipped: %s: %s", type(exc).__name__, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


async def sweep_orphans_until(orphans: SweepOrphanObjects, interval_s: float, stop: asyncio.Event) -> None:
    """Every ``interval_s``, the first time one interval after start: a restart loop never lists the bucket."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        if stop.is_set():
            return
        try:
            report = await orphans()
            if report.deleted:
                log.info("orphan sweep removed %d of %d old objects", report.deleted, report.looked_at)
        except Exception as exc:
            log.warning("orphan sweep skipped: %s: %s", type(exc).__name__, exc)


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    start_metrics_server(settings.metrics.host, settings.metrics.port, "relay")
    container = relay_container(settings)
    try:
        relay = await container.get(OutboxRelay)
        tasks = await container.get(SweepTasks)
        embeddings = await container.get(ResendLostEmbeddings)
        orphans = await container.get(SweepOrphanObjects)
        log.info("relay delivering the outbox")  # its broker and database are connected by now
        await asyncio.gather(
            relay.run(stop),
            sweep_until(tasks, embeddings, settings.broker.sweep_interval_s, stop),
            sweep_orphans_until(orphans, settings.broker.orphan_sweep_interval_s, stop),
        )
    finally:
        await container.close()
