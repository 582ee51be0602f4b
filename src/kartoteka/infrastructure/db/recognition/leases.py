"""SqlLeaseKeeper: the heartbeat of a running job, one conditional update of one row.

Written in place, without bumping the task's version, for the same reason as
progress: a renewal many times a minute must never make a cancel or a retry
lose an optimistic race. Only the attempt that holds the task renews it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.infrastructure.db.schema import recognition_tasks as t


class SqlLeaseKeeper:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def renew(self, task_id: UUID, attempt: int, until: datetime) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.attempt == attempt, t.c.status.in_(("running", "cancelling")))
                .values(lease_until=until)
            )
        return bool(result.rowcount == 1)
