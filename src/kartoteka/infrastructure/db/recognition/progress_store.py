"""SqlProgressStore: the latest progress of a running attempt, outside optimistic versioning.

Progress changes many times a second and matters to nobody once the task
finishes; bumping the task's version for it would make a linguist's cancel
lose a race against a tick. So it is written in place, only while the row is
still the same attempt in ``running``.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.domain.recognition.task import Progress
from kartoteka.infrastructure.db.schema import recognition_tasks as t


class SqlProgressStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, task_id: UUID, attempt: int, progress: Progress) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(t.c.id == task_id, t.c.attempt == attempt, t.c.status == "running")
                .values(
                    progress_stage=progress.stage,
                    progress_done=progress.done,
                    progress_total=progress.total,
                    updated_at=func.now(),
                )
            )
