"""``kartoteka worker``: consume jobs of the given queues until told to stop.

Models load before the first message is taken, so a missing model stops the
worker at start-up. Messages are acknowledged only after the job has run
(its outcome committed), so a worker killed mid-job leaves its message to be
redelivered to another (RabbitMQ); whatever the broker, the dead worker's lease
lapses and the relay's sweeper sends the job again. An embedding worker first makes sure the gallery has,
or is building, the vectors of the model it loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from dishka import AsyncContainer
from dishka.integrations.taskiq import setup_dishka
from taskiq import AsyncBroker
from taskiq.acks import AcknowledgeType
from taskiq.api.receiver import run_receiver_task

from kartoteka.application.gallery.indexing import PrepareModel
from kartoteka.application.gallery.ports.embedding import ImageEncoder
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.di import CardRecognition, ConsumerBrokers, worker_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.observability.metrics import MODEL_LOAD, start_metrics_server

log = logging.getLogger(__name__)


async def _prepare(container: AsyncContainer, queues: Sequence[str]) -> None:
    """Models first (a missing model is the error to report), then the servers, now rather than later."""
    if "recognition" in queues:
        began = time.perf_counter()
        await container.get(CardRecognition)
        MODEL_LOAD.labels("recognition").set(time.perf_counter() - began)
        await container.get(ProcessCard)
    if "embedding" in queues:
        began = time.perf_counter()
        encoder = await container.get(ImageEncoder)
        MODEL_LOAD.labels("embedding").set(time.perf_counter() - began)
        queued = await (await container.get(PrepareModel))()
        log.info("embedding with %s/%s; %d images queued for it", encoder.model.key, encoder.model.version, queued)


def job_concurrency(settings: Settings, queue: str) -> int:
    """How many jobs of ``queue`` this worker runs at once.

    Recognition runs ``broker.prefetch`` cards (2 by default): RecognizeCard's lanes let the next card be
    decoded and detected while the current one is read, one card per model at a time. Queries are small
    and someone waits on each: an embedding worker takes a few at once.
    """
    return settings.broker.prefetch if queue == "recognition" else max(2, settings.broker.prefetch)


def metrics_process(queues: Sequence[str]) -> str:
    """A recognition worker (whatever else it consumes) takes the worker's metrics port, an embedding
    worker the embedder's: ``serve`` runs one of each on one host."""
    return "worker" if "recognition" in queues else "embedder"


async def run_worker(settings: Settings, queues: Sequence[str], stop: asyncio.Event) -> None:
    # Before the models load, so a scrape sees the process (and its load time once known) at once.
    start_metrics_server(settings.metrics.host, settings.metrics.port, metrics_process(queues))
    container = worker_container(settings, queues)
    started: list[AsyncBroker] = []
    try:
        await _prepare(container, queues)
        receivers = []
        for queue, broker in (await container.get(ConsumerBrokers)).by_queue.items():
            setup_dishka(container, broker)
            await broker.startup()
            started.append(broker)
            concurrency = job_concurrency(settings, queue)
            receivers.append(
                asyncio.create_task(
                    run_receiver_task(
                        broker, max_async_tasks=concurrency, max_prefetch=0, ack_time=AcknowledgeType.WHEN_EXECUTED
                    )
                )
            )
        log.info("worker consuming %s", ", ".join(queues))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({*receivers, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (*receivers, stopper):
            task.cancel()
        for task in receivers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        for broker in started:
            with contextlib.suppress(Exception):
                await broker.shutdown()
        await container.close()
