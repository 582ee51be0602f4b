"""SqlTaskRepository: recognition tasks as rows, mapped by hand, with optimistic versioning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kartoteka.application.ports.unit_of_work import Batch, ConcurrentUpdateError, TaskNotFoundError
from kartoteka.domain.recognition.task import CardImage, Progress, RecognitionTask, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.schema import batches, recognition_tasks


def task_to_row(task: RecognitionTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "batch_id": task.batch_id,
        "status": task.status.value,
        "attempt": task.attempt,
        "image_key": task.image.key,
        "filename": task.image.filename,
        "content_type": task.image.content_type,
        "size": task.image.size,
        "width": task.image.width,
        "height": task.image.height,
        "progress_stage": task.progress.stage,
        "progress_done": task.progress.done,
        "progress_total": task.progress.total,
        "transcript": task.transcript.to_dict() if task.transcript is not None else None,
        "error": task.error,
        "created_at": task.created_at,
        "updated_at": task.updated_at or task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }


def task_from_row(row: Any) -> RecognitionTask:
    return RecognitionTask(
        id=row.id,
        batch_id=row.batch_id,
        status=TaskStatus(row.status),
        attempt=row.attempt,
        image=CardImage(
            key=row.image_key,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            width=row.width,
            height=row.height,
        ),
        progress=Progress(row.progress_stage, row.progress_done, row.progress_total),
        transcript=Transcript.from_dict(row.transcript) if row.transcript is not None else None,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        version=row.version,
    )


class SqlTaskRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._seen: dict[UUID, RecognitionTask] = {}
        self._new: set[UUID] = set()
        self._deleted: set[UUID] = set()

    @property
    def seen(self) -> Sequence[RecognitionTask]:
        return list(self._seen.values())

    async def add(self, task: RecognitionTask) -> None:
        self._seen[task.id] = task
        self._new.add(task.id)

    async def get(self, task_id: UUID) -> RecognitionTask:
        if task_id in self._seen and task_id not in self._deleted:
            return self._seen[task_id]
        row = (await self._conn.execute(select(recognition_tasks).where(recognition_tasks.c.id == task_id))).first()
        if row is None:
            raise TaskNotFoundError(task_id)
        task = task_from_row(row)
        self._seen[task.id] = task
        return task

    async def delete(self, task: RecognitionTask) -> None:
        self._seen[task.id] = task
        self._deleted.add(task.id)

    async def counts_by_status(self, batch_id: UUID | None = None) -> dict[TaskStatus, int]:
        query = select(recognition_tasks.c.status, func.count()).group_by(recognition_tasks.c.status)
        if batch_id is not None:
            query = query.where(recognition_tasks.c.batch_id == batch_id)
        counts = dict.fromkeys(TaskStatus, 0)
        for status, count in await self._conn.execute(query):
            counts[TaskStatus(status)] = count
        return counts

    async def flush(self) -> None:
        """Write every seen task: inserts, deletes, and updates guarded by the version that was read."""
        for task_id, task in self._seen.items():
            if task_id in self._deleted:
                await self._conn.execute(delete(recognition_tasks).where(recognition_tasks.c.id == task_id))
            elif task_id in self._new:
                await self._conn.execute(insert(recognition_tasks).values(**task_to_row(task), version=1))
                task.version = 1
            else:
                result = await self._conn.execute(
                    update(recognition_tasks)
                    .where(recognition_tasks.c.id == task_id, recognition_tasks.c.version == task.version)
                    .values(**task_to_row(task), version=task.version + 1)
                )
                if result.rowcount != 1:
                    raise ConcurrentUpdateError(f"task {task_id} was changed by someone else")
                task.version += 1
        self._new.clear()


class SqlBatchRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, batch: Batch) -> None:
        await self._conn.execute(insert(batches).values(id=batch.id, label=batch.label, created_at=batch.created_at))

    async def get(self, batch_id: UUID) -> Batch | None:
        row = (await self._conn.execute(select(batches).where(batches.c.id == batch_id))).first()
        return Batch(id=row.id, label=row.label, created_at=row.created_at) if row is not None else None
