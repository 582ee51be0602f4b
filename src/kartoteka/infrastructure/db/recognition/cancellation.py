"""SqlCancellationProbe: has this job's task been cancelled, deleted or retried since it started?

Asked between model batches, it reads one indexed row: the database is the
source of truth, so a cancel can never be missed the way a lost pub/sub
signal could be.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.infrastructure.db.schema import recognition_tasks

_STOPPING = {"cancelling", "cancelled"}


class SqlCancellationProbe:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def is_cancelled(self, task_id: UUID, attempt: int) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(recognition_tasks.c.status, recognition_tasks.c.attempt).where(
                        recognition_tasks.c.id == task_id
                    )
                )
            ).first()
        return row is None or row.status in _STOPPING or row.attempt != attempt
