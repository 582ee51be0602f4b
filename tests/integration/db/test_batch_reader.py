"""The batch list: newest first, keyset pages without gaps or repeats, counts per status, bad cursors."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.ports.task_reader import InvalidCursorError
from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.infrastructure.db.recognition.batch_reader import SqlBatchReader
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.db.schema import batches, recognition_tasks
from tests.integration.db.test_task_reader import T0, add


@pytest.fixture(autouse=True)
async def _no_batches(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(recognition_tasks))
        await conn.execute(delete(batches))


async def test_batches_come_newest_first_with_their_cards_counted(engine: AsyncEngine) -> None:
    made = [Batch(uuid4(), f"box {i}", T0 + timedelta(hours=i)) for i in range(5)]
    for i, batch in enumerate(made):
        await add(engine, i, batch, start=60 * i)  # box i has i cards
    async with SqlUnitOfWork(engine, messages_for) as u:
        tasks = await u.tasks.in_batch(made[3].id)
        tasks[0].request_cancel(T0)
        await u.commit()

    reader = SqlBatchReader(engine)
    seen, cursor = [], None
    while True:
        page = await reader.newest(cursor, 2)
        seen += list(page.batches)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [listing.batch.id for listing in seen] == [b.id for b in reversed(made)]
    by_label = {listing.batch.label: listing for listing in seen}
    assert [by_label[f"box {i}"].total for i in range(5)] == [0, 1, 2, 3, 4]
    assert by_label["box 3"].counts[TaskStatus.CANCELLED] == 1
    assert by_label["box 3"].counts[TaskStatus.QUEUED] == 2
    assert set(by_label["box 0"].counts) == set(TaskStatus)


async def test_a_bad_cursor_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidCursorError):
        await SqlBatchReader(engine).newest("garbage!", 10)
