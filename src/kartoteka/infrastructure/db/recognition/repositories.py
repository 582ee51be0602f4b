"""SqlTaskRepository: recognition tasks as rows, mapped by hand, with optimistic versioning.

A task's new transcript revisions are written with it, in the same
transaction, together with the card's search document: the text a search
finds is always the revision the card shows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Text, and_, cast, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kartoteka.application.recognition.outbox_messages import JOBS
from kartoteka.application.recognition.ports.tasks import (
    Batch,
    ConcurrentUpdateError,
    RevisionNotFoundError,
    SubmissionKey,
    SubmissionKeyTakenError,
    TaskNotFoundError,
)
from kartoteka.domain.recognition.revisions import RevisionKind, TranscriptRevision
from kartoteka.domain.recognition.task import CardImage, Progress, RecognitionTask, SourcePage, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript
from kartoteka.infrastructure.db.recognition.transcript_index import index_transcript
from kartoteka.infrastructure.db.schema import batches, outbox, recognition_tasks, submission_keys, transcript_revisions


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
        "transcript_revision": task.revision,
        "batch_position": task.batch_position,
        "source_filename": task.image.source.filename if task.image.source else None,
        "source_page": task.image.source.number if task.image.source else None,
        "source_page_count": task.image.source.count if task.image.source else None,
        "error": task.error,
        "created_at": task.created_at,
        "updated_at": task.updated_at or task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "submitted_by": task.submitted_by,
        "runs": task.runs,
        "retry_at": task.retry_at,
        "lease_until": task.lease_until,
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
            source=(
                SourcePage(row.source_filename, row.source_page, row.source_page_count)
                if row.source_filename is not None
                else None
            ),
        ),
        progress=Progress(row.progress_stage, row.progress_done, row.progress_total),
        transcript=Transcript.from_dict(row.transcript) if row.transcript is not None else None,
        revision=row.transcript_revision,
        batch_position=row.batch_position,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        submitted_by=row.submitted_by,
        runs=row.runs,
        retry_at=row.retry_at,
        lease_until=row.lease_until,
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

    async def get(self, task_id: UUID, *, lock: bool = False) -> RecognitionTask:
        if task_id in self._seen and task_id not in self._deleted:
            return self._seen[task_id]
        query = select(recognition_tasks).where(recognition_tasks.c.id == task_id)
        row = (await self._conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise TaskNotFoundError(task_id)
        task = task_from_row(row)
        self._seen[task.id] = task
        return task

    async def delete(self, task: RecognitionTask) -> None:
        self._seen[task.id] = task
        self._deleted.add(task.id)

    async def in_batch(self, batch_id: UUID, *, lock: bool = False) -> list[RecognitionTask]:
        query = (
            select(recognition_tasks)
            .where(recognition_tasks.c.batch_id == batch_id)
            .order_by(
                recognition_tasks.c.batch_position.asc().nulls_last(),
                recognition_tasks.c.created_at,
                recognition_tasks.c.id,
            )
        )
        rows = await self._conn.execute(query.with_for_update() if lock else query)
        tasks = []
        for row in rows:
            task = self._seen.get(row.id) or task_from_row(row)
            self._seen[task.id] = task
            tasks.append(task)
        return tasks

    async def needing_sweep(self, now: datetime, queued_before: datetime, limit: int) -> list[RecognitionTask]:
        """Tasks nobody is settling, locked for this transaction; rows another sweeper holds are skipped.

        Due retries; running or cancelling tasks whose lease lapsed; and queued tasks untouched since
        ``queued_before`` with no job waiting in the outbox (their message may be lost).
        """
        t = recognition_tasks
        job_waiting = exists().where(
            outbox.c.destination == JOBS, outbox.c.key == cast(t.c.id, Text), outbox.c.dead_at.is_(None)
        )
        query = (
            select(t)
            .where(
                or_(
                    and_(t.c.status == "queued", t.c.retry_at <= now),
                    and_(
                        t.c.status.in_(("running", "cancelling")),
                        or_(t.c.lease_until.is_(None), t.c.lease_until <= now),
                    ),
                    and_(
                        t.c.status == "queued",
                        t.c.retry_at.is_(None),
                        t.c.updated_at <= queued_before,
                        ~job_waiting,
                    ),
                )
            )
            .order_by(t.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        tasks = []
        for row in await self._conn.execute(query):
            task = task_from_row(row)
            self._seen[task.id] = task
            tasks.append(task)
        return tasks

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
            if task_id not in self._deleted and task.new_revisions:
                await self._save_revisions(task)
        self._new.clear()

    async def _save_revisions(self, task: RecognitionTask) -> None:
        await self._conn.execute(
            insert(transcript_revisions), [revision_to_row(task.id, r) for r in task.new_revisions]
        )
        latest = task.new_revisions[-1]
        await index_transcript(self._conn, task.id, latest.number, latest.transcript, latest.created_at)
        task.new_revisions.clear()


class SqlBatchRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, batch: Batch) -> None:
        await self._conn.execute(insert(batches).values(id=batch.id, label=batch.label, created_at=batch.created_at))

    async def get(self, batch_id: UUID) -> Batch | None:
        row = (await self._conn.execute(select(batches).where(batches.c.id == batch_id))).first()
        return Batch(id=row.id, label=row.label, created_at=row.created_at) if row is not None else None

    async def delete(self, batch_id: UUID) -> None:
        await self._conn.execute(delete(batches).where(batches.c.id == batch_id))


class SqlSubmissionKeyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get(self, scope: str, key: str) -> SubmissionKey | None:
        k = submission_keys.c
        row = (await self._conn.execute(select(submission_keys).where(k.scope == scope, k.key == key))).first()
        if row is None:
            return None
        ids = tuple(UUID(i) for i in row.task_ids)
        return SubmissionKey(row.scope, row.key, row.fingerprint, row.batch_id, ids, row.created_at)

    async def add(self, record: SubmissionKey) -> None:
        values = {
            "scope": record.scope,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "batch_id": record.batch_id,
            "task_ids": [str(i) for i in record.task_ids],
            "created_at": record.created_at,
        }
        try:
            await self._conn.execute(insert(submission_keys).values(**values))
        except IntegrityError:  # the primary key: a concurrent request with this key committed first
            raise SubmissionKeyTakenError(record.key) from None


def revision_to_row(task_id: UUID, revision: TranscriptRevision) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "number": revision.number,
        "kind": revision.kind.value,
        "author": revision.author,
        "attempt": revision.attempt,
        "operations": list(revision.operations),
        "transcript": revision.transcript.to_dict(),
        "created_at": revision.created_at,
    }


def revision_from_row(row: Any) -> TranscriptRevision:
    return TranscriptRevision(
        number=row.number,
        kind=RevisionKind(row.kind),
        transcript=Transcript.from_dict(row.transcript),
        created_at=row.created_at,
        attempt=row.attempt,
        author=row.author,
        operations=tuple(row.operations),
    )


class SqlRevisionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get(self, task_id: UUID, number: int) -> TranscriptRevision:
        r = transcript_revisions
        row = (await self._conn.execute(select(r).where(r.c.task_id == task_id, r.c.number == number))).first()
        if row is None:
            latest = await self._conn.scalar(
                select(recognition_tasks.c.transcript_revision).where(recognition_tasks.c.id == task_id)
            )
            raise RevisionNotFoundError(task_id, number, latest)
        return revision_from_row(row)

    async def history(self, task_id: UUID) -> list[TranscriptRevision]:
        r = transcript_revisions
        rows = await self._conn.execute(select(r).where(r.c.task_id == task_id).order_by(r.c.number))
        return [revision_from_row(row) for row in rows]

    async def latest_of(self, task_ids: Collection[UUID]) -> dict[UUID, TranscriptRevision]:
        if not task_ids:
            return {}
        r, t = transcript_revisions, recognition_tasks
        rows = await self._conn.execute(
            select(r)
            .join(t, and_(t.c.id == r.c.task_id, t.c.transcript_revision == r.c.number))
            .where(t.c.id.in_(list(task_ids)))
        )
        return {row.task_id: revision_from_row(row) for row in rows}
