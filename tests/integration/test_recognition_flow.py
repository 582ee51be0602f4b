"""A card from SubmitCards to a committed transcript: real PostgreSQL, S3, Redis, RabbitMQ, tiny models.

The relay and the worker run in this process (their process commands are
tested end to end separately); everything between them is real.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kartoteka.application.recognition.manage_tasks import GetTask
from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.submit_cards import SubmitCards, Upload, UploadLimits
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.imaging.inspector import PillowImageInspector
from kartoteka.infrastructure.imaging.pages import PillowPdfiumPageSplitter
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from kartoteka.runtime.relay import run_relay
from kartoteka.runtime.worker import run_worker
from kartoteka_dev.synthetic_cards import render_card
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server


@pytest.fixture
def settings(
    migrated_database: str,
    s3_server: S3Server,
    redis_server: RedisServer,
    rabbitmq_server: RabbitMQServer,
    tiny_detector: Path,
    tiny_recognizer: Path,
) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": migrated_database},
            "s3": {
                "endpoint": s3_server.endpoint,
                "access_key": s3_server.access_key,
                "secret_key": s3_server.secret_key,
                "region": s3_server.region,
                "bucket": f"flow-{uuid.uuid4().hex[:8]}",
            },
            "redis": {"url": redis_server.url},
            "broker": {"url": rabbitmq_server.url},
            "recognition": {
                "detector": {"model": str(tiny_detector), "conf": 0.0, "imgsz": 320, "max_det": 12},
                "recognizer": {"model": str(tiny_recognizer), "batch_size": 4},
            },
            "inference": {"device": "cpu"},
        }
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """The relay and a recognition worker running in the background; the api-side use cases."""
    engine = create_engine(settings.database)
    storage = S3ObjectStorage(settings.s3)
    await storage.ensure_bucket()
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay(settings, stop))
    worker = asyncio.create_task(run_worker(settings, ["recognition"], stop))
    ids = itertools.count()
    uow = lambda: SqlUnitOfWork(engine, messages_for)  # noqa: E731
    try:
        yield {
            "submit": SubmitCards(
                uow,
                storage,
                PillowImageInspector(),
                UploadLimits(10**7, 10**8, 10),
                utc_now,
                lambda: uuid.UUID(int=uuid.uuid4().int ^ next(ids)),
                PillowPdfiumPageSplitter(max_pixels=10**8, pdf_dpi=150, max_pages=10),
            ),
            "get": GetTask(uow),
            "tasks": [relay, worker],
        }
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(relay, worker, return_exceptions=True), timeout=60)
        await storage.close()
        await engine.dispose()


async def wait_for_status(get: GetTask, task_id: uuid.UUID, status: TaskStatus, tasks: list[Any]) -> RecognitionTask:
    async def poll() -> RecognitionTask:
        while True:
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise AssertionError(f"a service died: {t.exception()!r}")
            task = await get(task_id)
            if task.status is status:
                return task
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), timeout=120)


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    card = render_card(seed).image
    card.thumbnail((640, 450))
    card.save(buf, format="PNG")
    return buf.getvalue()


async def test_submitted_cards_are_recognised_by_the_worker(services: dict[str, Any]) -> None:
    submission = await services["submit"]([Upload(f"card{i}.png", png(i)) for i in range(3)], "flow")
    assert submission.batch is not None
    for task in submission.tasks:
        done = await wait_for_status(services["get"], task.id, TaskStatus.COMPLETED, services["tasks"])
        assert done.transcript is not None
        assert done.transcript.width == 640
        assert [m.role for m in done.transcript.models] == ["detector", "recognizer"]
        assert done.started_at is not None
        assert done.finished_at is not None
        assert done.attempt == 1
