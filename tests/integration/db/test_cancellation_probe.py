from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.domain.recognition.task import CardImage, RecognitionTask
from kartoteka.infrastructure.db.recognition.cancellation import SqlCancellationProbe
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 22, tzinfo=UTC)
IMAGE = CardImage(key="k", filename="f.png", content_type="image/png", size=1, width=1, height=1)


async def test_probe_follows_the_task_row(engine: AsyncEngine) -> None:
    probe = SqlCancellationProbe(engine)
    task = RecognitionTask.submit(uuid4(), IMAGE, NOW)
    async with SqlUnitOfWork(engine, messages_for) as u:
        await u.tasks.add(task)
        task.start(1, NOW)
        await u.commit()
    assert await probe.is_cancelled(task.id, 1) is False
    assert await probe.is_cancelled(task.id, 2) is True  # not this job's attempt
    async with SqlUnitOfWork(engine, messages_for) as u:
        (await u.tasks.get(task.id)).request_cancel(NOW)
        await u.commit()
    assert await probe.is_cancelled(task.id, 1) is True
    assert await probe.is_cancelled(uuid4(), 1) is True  # deleted
