"""SqlUnitOfWork on real PostgreSQL: state and outbox commit together, NOTIFY after commit, versions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.ports.tasks import Batch, ConcurrentUpdateError, TaskNotFoundError
from kartoteka.application.shared.database import DatabaseUnavailableError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.domain.recognition.task import CardImage, RecognitionTask, TaskStatus
from kartoteka.domain.recognition.transcript import ModelIdentity, Transcript, TranscriptLine, TranscriptWord
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.db.schema import OUTBOX_CHANNEL, outbox

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
IMAGE = CardImage(key="cards/a.png", filename="Ба́тюшка.png", content_type="image/png", size=123, width=40, height=30)


def uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, messages_for)


async def outbox_rows(engine: AsyncEngine, key: str) -> list[tuple[str, dict[str, object]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.destination, outbox.c.payload).where(outbox.c.key == key))
        return [(r.destination, r.payload) for r in rows]


async def test_submitted_task_and_its_messages_commit_together(engine: AsyncEngine) -> None:
    task = RecognitionTask.submit(uuid4(), IMAGE, T0)
    async with uow(engine) as u:
        await u.tasks.add(task)
        await u.commit()
    destinations = [d for d, _ in await outbox_rows(engine, str(task.id))]
    assert destinations == ["recognition.jobs", "status"]
    async with engine.connect() as conn:
        integration = await conn.execute(select(outbox.c.key).where(outbox.c.destination == "integration"))
        assert "recognition.task.queued" in {r.key for r in integration}
    async with uow(engine) as u:
        loaded = await u.tasks.get(task.id)
    assert (loaded.status, loaded.attempt, loaded.image, loaded.version) == (TaskStatus.QUEUED, 1, IMAGE, 1)
    assert loaded.created_at == T0


async def test_nothing_is_stored_without_commit(engine: AsyncEngine) -> None:
    task = RecognitionTask.submit(uuid4(), IMAGE, T0)
    async with uow(engine) as u:
        await u.tasks.add(task)
        await u.tasks.flush()  # written inside the transaction, then abandoned
    async with uow(engine) as u:
        with pytest.raises(TaskNotFoundError):
            await u.tasks.get(task.id)
    assert await outbox_rows(engine, str(task.id)) == []


async def test_transcript_survives_the_round_trip(engine: AsyncEngine) -> None:
    task = RecognitionTask.submit(uuid4(), IMAGE, T0)
    word = TranscriptWord("на‿гору", Box(1.5, 2, 30.25, 20), 0.9, 0.75)
    transcript = Transcript(40, 30, (TranscriptLine((word,)),), (ModelIdentity("detector", "y", "r1", "ultralytics"),))
    async with uow(engine) as u:
        await u.tasks.add(task)
        await u.commit()
    async with uow(engine) as u:
        t = await u.tasks.get(task.id)
        t.start(1, T0 + timedelta(seconds=1))
        t.complete(1, transcript, T0 + timedelta(seconds=2))
        await u.commit()
    async with uow(engine) as u:
        done = await u.tasks.get(task.id)
    assert done.status is TaskStatus.COMPLETED
    assert done.transcript == transcript
    assert done.finished_at == T0 + timedelta(seconds=2)
    assert done.version == 2  # one committed change, however many transitions it made


async def test_concurrent_update_is_refused_and_leaves_no_trace(engine: AsyncEngine) -> None:
    task = RecognitionTask.submit(uuid4(), IMAGE, T0)
    async with uow(engine) as u:
        await u.tasks.add(task)
        await u.commit()
    async with uow(engine) as first, uow(engine) as second:
        a = await first.tasks.get(task.id)
        b = await second.tasks.get(task.id)
        a.request_cancel(T0 + timedelta(seconds=1))
        await first.commit()
        b.start(1, T0 + timedelta(seconds=2))
        with pytest.raises(ConcurrentUpdateError):
            await second.commit()
    async with uow(engine) as u:
        assert (await u.tasks.get(task.id)).status is TaskStatus.CANCELLED
    statuses = [p["status"] for d, p in await outbox_rows(engine, str(task.id)) if d == "status"]
    assert statuses == ["queued", "cancelled"]  # the losing 'running' never reached the outbox


async def test_notify_arrives_only_after_commit(engine: AsyncEngine, migrated_database: str) -> None:
    dsn = migrated_database.replace("postgresql+asyncpg://", "postgresql://")
    listener = await asyncpg.connect(dsn)
    received: list[str] = []
    woke = asyncio.Event()

    def on_notify(*_: object) -> None:
        received.append("notify")
        woke.set()

    await listener.add_listener(OUTBOX_CHANNEL, on_notify)
    try:
        async with uow(engine) as u:  # rolled back: must not wake anyone
            await u.tasks.add(RecognitionTask.submit(uuid4(), IMAGE, T0))
            await u.tasks.flush()
        async with uow(engine) as u:
            await u.tasks.add(RecognitionTask.submit(uuid4(), IMAGE, T0))
            await u.tasks.flush()
            assert received == []  # inserted but not committed: nothing yet
            await u.commit()
        await asyncio.wait_for(woke.wait(), timeout=5)
        await listener.fetchval("SELECT 1")  # anything sent earlier has been processed by now
        assert received == ["notify"]  # one per committed transaction; none from the rolled-back one
    finally:
        await listener.close()


async def test_counts_by_status_and_batches(engine: AsyncEngine) -> None:
    batch = Batch(uuid4(), "Пинега 1974", T0)
    async with uow(engine) as u:
        await u.batches.add(batch)
        for i in range(3):
            await u.tasks.add(RecognitionTask.submit(uuid4(), IMAGE, T0 + timedelta(seconds=i), batch_id=batch.id))
        await u.commit()
    async with uow(engine) as u:
        counts = await u.tasks.counts_by_status(batch.id)
        assert counts[TaskStatus.QUEUED] == 3
        assert counts[TaskStatus.COMPLETED] == 0
        assert await u.batches.get(batch.id) == batch


async def test_unreachable_database_is_a_clear_error() -> None:
    engine = create_async_engine("postgresql+asyncpg://x:y@127.0.0.1:9/none", connect_args={"timeout": 2})
    try:
        with pytest.raises(DatabaseUnavailableError, match="database unavailable"):
            async with uow(engine):
                pass
    finally:
        await engine.dispose()
