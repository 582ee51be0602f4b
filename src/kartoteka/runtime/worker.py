"""``kartoteka worker``: consume recognition jobs until told to stop.

Models load before the first message is taken, so a missing model stops the
worker at start-up. Messages are acknowledged only after the job has run
(its outcome committed), so a worker killed mid-job leaves its message to be
redelivered to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from dishka.integrations.taskiq import setup_dishka
from taskiq.acks import AcknowledgeType
from taskiq.api.receiver import run_receiver_task
from taskiq.middlewares import SmartRetryMiddleware

from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.di import CardRecognition, worker_container
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.messaging.jobs import make_broker
from kartoteka.presentation.worker.tasks import register_recognition_tasks

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, queues: Sequence[str], stop: asyncio.Event) -> None:
    container = worker_container(settings)
    try:
        await container.get(CardRecognition)  # models first: a missing model is the error to report
        await container.get(ProcessCard)  # then the servers, now rather than on the first job
        broker = make_broker(settings.broker, settings.redis.url, queues)
        broker.add_middlewares(
            SmartRetryMiddleware(
                default_retry_count=settings.broker.max_retries + 1,
                default_delay=1.0,
                use_delay_exponent=True,
                max_delay_exponent=30.0,
                use_jitter=True,
            )
        )
        register_recognition_tasks(
            broker, timeout_s=settings.broker.job_timeout_s, max_retries=settings.broker.max_retries
        )
        setup_dishka(container, broker)
        broker.is_worker_process = True
        await broker.startup()
        receiver = asyncio.create_task(
            run_receiver_task(
                broker,
                max_async_tasks=settings.broker.prefetch,
                max_prefetch=0,
                ack_time=AcknowledgeType.WHEN_EXECUTED,
            )
        )
        log.info("worker consuming %s", ", ".join(queues))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (receiver, stopper):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        await broker.shutdown()
    finally:
        await container.close()
