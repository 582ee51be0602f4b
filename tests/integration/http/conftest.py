"""An api app wired to the harness's real servers, called in-process over ASGI."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.di import api_container
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript, TranscriptLine, TranscriptWord
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.presentation.http.app import create_app
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server


def api_settings(database_url: str, s3: S3Server, redis: RedisServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": database_url},
        "s3": {
            "endpoint": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
            "region": s3.region,
            "bucket": f"api-{uuid.uuid4().hex[:8]}",
        },
        "redis": {"url": redis.url},
        "api": {"max_upload_bytes": 2_000_000, "max_files": 10},
    }
    for section, changes in overrides.items():
        values.setdefault(section, {}).update(changes)
    return Settings.model_validate(values)


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    container = api_container(settings)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kartoteka") as client:
            yield client
    finally:
        await container.close()


@pytest.fixture
def settings(migrated_database: str, s3_server: S3Server, redis_server: RedisServer) -> Settings:
    return api_settings(migrated_database, s3_server, redis_server)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(settings):
        yield c


ACUTE = "\u0301"


def stressed_card(width: int = 64, height: int = 48) -> Transcript:
    """A card with stress marks, an ё and an undertie, as the models would read it (NFC)."""

    def w(text: str, box: tuple[float, float, float, float], det: float = 0.91, rec: float = 0.62) -> TranscriptWord:
        return TranscriptWord(unicodedata.normalize("NFC", text), Box(*box), det, rec)

    return Transcript(
        width=width,
        height=height,
        lines=(
            TranscriptLine((w(f"Ба{ACUTE}тюшка", (2, 2, 30, 14)), w("пришёл", (32, 2, 62, 14)))),
            TranscriptLine((w("на\u203fгоре", (2, 20, 40, 32)), w(f"сиде{ACUTE}л", (42, 20, 62, 32)))),
        ),
        models=(
            ModelIdentity("detector", "yolo-tiny", "r1", "pytorch"),
            ModelIdentity("recognizer", "trocr-tiny", "r2", "onnx"),
        ),
    )


async def finish_task(
    database_url: str, task_id: str | uuid.UUID, transcript: Transcript | None = None, failure: str | None = None
) -> None:
    """What a worker does at the end of a job: the task's current attempt completes (or fails) in the database."""
    engine = create_async_engine(database_url)
    try:
        async with SqlUnitOfWork(engine, messages_for) as uow:
            task = await uow.tasks.get(uuid.UUID(str(task_id)))
            now = utc_now()
            task.start(task.attempt, now)
            if failure is not None:
                task.fail(task.attempt, failure, now)
            else:
                task.complete(task.attempt, transcript or stressed_card(), now)
            await uow.commit()
    finally:
        await engine.dispose()


async def hold_task(database_url: str, task_id: str | uuid.UUID) -> None:
    """What a worker does when it claims a job: the task runs, under a live lease."""
    engine = create_async_engine(database_url)
    try:
        async with SqlUnitOfWork(engine, messages_for) as uow:
            task = await uow.tasks.get(uuid.UUID(str(task_id)))
            task.start(task.attempt, utc_now())
            await uow.commit()
    finally:
        await engine.dispose()
