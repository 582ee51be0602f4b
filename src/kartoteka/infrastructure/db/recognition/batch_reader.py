"""SqlBatchReader: batches by keyset pagination (created_at, id), newest first, with per-status counts.

Two queries for a page whatever its size: the batches, then their cards grouped by batch and status.
The cursor has the task list's form (``task_reader.encode_cursor``): opaque to clients.
"""

from __future__ import annotations

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import func

from kartoteka.application.recognition.ports.batch_reader import BatchListing, BatchPage
from kartoteka.application.recognition.ports.tasks import Batch
from kartoteka.domain.recognition.task import TaskStatus
from kartoteka.infrastructure.db.connection import connected
from kartoteka.infrastructure.db.recognition.task_reader import decode_cursor, encode_cursor
from kartoteka.infrastructure.db.schema import batches as b
from kartoteka.infrastructure.db.schema import recognition_tasks as t


class SqlBatchReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def newest(self, cursor: str | None, limit: int) -> BatchPage:
        query = select(b.c.id, b.c.label, b.c.created_at).order_by(b.c.created_at.desc(), b.c.id.desc())
        if cursor is not None:
            created_at, batch_id = decode_cursor(cursor)
            query = query.where(tuple_(b.c.created_at, b.c.id) < tuple_(created_at, batch_id))
        async with connected(self._engine) as conn:
            rows = list(await conn.execute(query.limit(limit + 1)))
            found = [Batch(row.id, row.label, row.created_at) for row in rows[:limit]]
            counts = {batch.id: dict.fromkeys(TaskStatus, 0) for batch in found}
            if found:
                grouped = (
                    select(t.c.batch_id, t.c.status, func.count())
                    .where(t.c.batch_id.in_(list(counts)))
                    .group_by(t.c.batch_id, t.c.status)
                )
                for batch_id, status, count in await conn.execute(grouped):
                    counts[batch_id][TaskStatus(status)] = count
        next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if len(rows) > limit else None
        return BatchPage(tuple(BatchListing(batch, counts[batch.id]) for batch in found), next_cursor)
