from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.domain.recognition.task import CardImage, Progress, RecognitionTask
from kartoteka.infrastructure.db.recognition.progress_store import SqlProgressStore
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 22, tzinfo=UTC)
IMAGE = CardImage(key="k", filename="f.png", content_type="image/png", size=1, width=1, height=1)


async def test_progress_is_saved_only_for_the_running_attempt_and_does_not_bump_the_version(
    engine: AsyncEngine,
) -> None:
    task = RecognitionTask.submit(uuid4(), IMAGE, NOW)
    async with SqlUnitOfWork(engine, messages_for) as u:
        await u.tasks.add(task)
        task.start(1, NOW)
        await u.commit()
    store = SqlProgressStore(engine)
    await store.save(task.id, 1, Progress("reading", 3, 9))
    await store.save(task.id, 2, Progress("reading", 8, 9))  # another attempt's tick: ignored
    async with SqlUnitOfWork(engine, messages_for) as u:
        loaded = await u.tasks.get(task.id)
        assert (loaded.progress.stage, loaded.progress.done, loaded.progress.total) == ("reading", 3, 9)
        assert loaded.version == 1
        loaded.request_cancel(NOW)  # a cancel after a tick does not conflict with it
        await u.commit()
    await store.save(task.id, 1, Progress("reading", 9, 9))  # no longer running: ignored
    async with SqlUnitOfWork(engine, messages_for) as u:
        assert (await u.tasks.get(task.id)).progress.done == 3
