"""Task listing: filters, keyset pages that stay correct while tasks arrive, counts, bad cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.ports.task_reader import InvalidCursorError, TaskFilter
from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.domain.recognition.task import CardImage, RecognitionTask, TaskStatus
from kartoteka.infrastructure.db.recognition.task_reader import SqlTaskReader
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.db.schema import recognition_tasks

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IMAGE = CardImage(key="k", filename="f.png", content_type="image/png", size=1, width=1, height=1)


async def add(engine: AsyncEngine, count: int, batch: Batch | None = None, start: int = 0) -> list[RecognitionTask]:
    tasks = [
        RecognitionTask.submit(uuid4(), IMAGE, T0 + timedelta(minutes=start + i), batch_id=batch.id if batch else None)
        for i in range(count)
    ]
    async with SqlUnitOfWork(engine, messages_for) as u:
        if batch is not None:
            await u.batches.add(batch)
        for task in tasks:
            await u.tasks.add(task)
        await u.commit()
    return tasks


@pytest.fixture(autouse=True)
async def _no_tasks(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(recognition_tasks))


async def test_pages_walk_newest_first_without_gaps_or_repeats(engine: AsyncEngine) -> None:
    tasks = await add(engine, 7)
    reader = SqlTaskReader(engine)
    seen, cursor = [], None
    first = await reader.page(TaskFilter(), None, 3)
    await add(engine, 2, start=100)  # newer tasks arriving between pages do not shift later pages
    page = first
    while True:
        seen += [t.id for t in page.tasks]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        page = await reader.page(TaskFilter(), cursor, 3)
    assert seen == [t.id for t in reversed(tasks)]


async def test_filters_and_counts(engine: AsyncEngine) -> None:
    batch = Batch(uuid4(), "b", T0)
    in_batch = await add(engine, 3, batch)
    await add(engine, 2, start=10)
    async with SqlUnitOfWork(engine, messages_for) as u:
        (await u.tasks.get(in_batch[0].id)).request_cancel(T0)
        await u.commit()
    reader = SqlTaskReader(engine)
    page = await reader.page(TaskFilter(statuses=frozenset({TaskStatus.QUEUED}), batch_id=batch.id), None, 10)
    assert {t.id for t in page.tasks} == {in_batch[1].id, in_batch[2].id}
    assert page.counts[TaskStatus.QUEUED] == 2
    assert page.counts[TaskStatus.CANCELLED] == 1  # counts ignore the status filter, not the batch
    ranged = await reader.page(TaskFilter(created_from=T0 + timedelta(minutes=10)), None, 10)
    assert len(ranged.tasks) == 2


@pytest.mark.parametrize("cursor", ["garbage!", "bm90IGEgY3Vyc29y", ""])
async def test_bad_cursor_is_refused(engine: AsyncEngine, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        await SqlTaskReader(engine).page(TaskFilter(), cursor, 10)


async def test_get_many_reads_existing_tasks_and_leaves_out_unknown_ids(engine: AsyncEngine) -> None:
    tasks = await add(engine, 3)
    unknown = uuid4()
    found = await SqlTaskReader(engine).get_many({tasks[0].id, tasks[2].id, unknown})
    assert set(found) == {tasks[0].id, tasks[2].id}
    assert found[tasks[2].id].status is TaskStatus.QUEUED
    assert await SqlTaskReader(engine).get_many(set()) == {}
