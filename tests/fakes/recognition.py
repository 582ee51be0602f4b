"""Fakes of the recognition ports: the task database and its unit of work, the page splitter, the card
recognizer, progress and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self
from uuid import UUID

from kartoteka.application.recognition.errors import RecognitionCancelledError
from kartoteka.application.recognition.outbox_messages import JOBS, messages_for
from kartoteka.application.recognition.ports.batch_reader import BatchListing, BatchPage
from kartoteka.application.recognition.ports.pages import (
    PageImage,
    PageTooLargeError,
    TooManyPagesError,
    UnreadableDocumentError,
)
from kartoteka.application.recognition.ports.progress import CancellationSignal, ProgressReporter
from kartoteka.application.recognition.ports.tasks import (
    Batch,
    ConcurrentUpdateError,
    RevisionNotFoundError,
    SubmissionKey,
    SubmissionKeyTakenError,
    TaskNotFoundError,
)
from kartoteka.application.shared.outbox import OutboundMessage
from kartoteka.domain.recognition.revisions import TranscriptRevision
from kartoteka.domain.recognition.task import Progress, RecognitionTask, TaskStatus
from kartoteka.domain.recognition.transcript import Transcript


class MemoryDatabase:
    """What has been committed: tasks, batches, transcript revisions and the outbox."""

    def __init__(self) -> None:
        self.tasks: dict[UUID, RecognitionTask] = {}
        self.batches: dict[UUID, Batch] = {}
        self.revisions: dict[UUID, list[TranscriptRevision]] = {}
        self.submission_keys: dict[tuple[str, str], SubmissionKey] = {}
        self.outbox: list[OutboundMessage] = []
        self.unsent_jobs: list[OutboundMessage] = []  # job rows the relay has not delivered yet
        self.fail_commit = False
        self.conflicts = 0  # commits that fail as if another writer had been first


class _Tasks:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._seen: dict[UUID, RecognitionTask] = {}
        self.deleted: set[UUID] = set()

    @property
    def seen(self) -> Sequence[RecognitionTask]:
        return list(self._seen.values())

    async def add(self, task: RecognitionTask) -> None:
        self._seen[task.id] = task

    async def get(self, task_id: UUID, *, lock: bool = False) -> RecognitionTask:
        if task_id in self._seen:
            return self._seen[task_id]
        if task_id not in self._db.tasks:
            raise TaskNotFoundError(task_id)
        import copy

        task = copy.deepcopy(self._db.tasks[task_id])
        self._seen[task_id] = task
        return task

    async def delete(self, task: RecognitionTask) -> None:
        self._seen[task.id] = task
        self.deleted.add(task.id)

    async def needing_sweep(self, now: datetime, queued_before: datetime, limit: int) -> list[RecognitionTask]:
        def needs(t: RecognitionTask) -> bool:
            if t.status is TaskStatus.QUEUED and t.retry_at is not None:
                return t.retry_at <= now
            if t.status in {TaskStatus.RUNNING, TaskStatus.CANCELLING}:
                return t.lease_until is None or t.lease_until <= now
            job_waiting = any(m.destination == JOBS and m.key == str(t.id) for m in self._db.unsent_jobs)
            return t.status is TaskStatus.QUEUED and (t.updated_at or t.created_at) <= queued_before and not job_waiting

        chosen = [t.id for t in self._db.tasks.values() if needs(t)][:limit]
        return [await self.get(task_id) for task_id in chosen]

    async def in_batch(self, batch_id: UUID, *, lock: bool = False) -> list[RecognitionTask]:
        ids = [t.id for t in self._db.tasks.values() if t.batch_id == batch_id]
        tasks = [await self.get(task_id) for task_id in ids]
        return sorted(tasks, key=lambda t: (t.batch_position is None, t.batch_position or 0, t.created_at))

    async def counts_by_status(self, batch_id: UUID | None = None) -> dict[TaskStatus, int]:
        counts = dict.fromkeys(TaskStatus, 0)
        for t in self._db.tasks.values():
            if batch_id is None or t.batch_id == batch_id:
                counts[t.status] += 1
        return counts


class _Batches:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self.added: list[Batch] = []
        self.deleted: set[UUID] = set()

    async def add(self, batch: Batch) -> None:
        self.added.append(batch)

    async def get(self, batch_id: UUID) -> Batch | None:
        return next((b for b in self.added if b.id == batch_id), None) or self._db.batches.get(batch_id)

    async def delete(self, batch_id: UUID) -> None:
        self.deleted.add(batch_id)


class _Revisions:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def get(self, task_id: UUID, number: int) -> TranscriptRevision:
        for revision in self._db.revisions.get(task_id, []):
            if revision.number == number:
                return revision
        task = self._db.tasks.get(task_id)
        raise RevisionNotFoundError(task_id, number, task.revision if task else None)

    async def history(self, task_id: UUID) -> list[TranscriptRevision]:
        return list(self._db.revisions.get(task_id, []))

    async def latest_of(self, task_ids: Collection[UUID]) -> dict[UUID, TranscriptRevision]:
        return {t: self._db.revisions[t][-1] for t in task_ids if self._db.revisions.get(t)}


class _SubmissionKeys:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self.added: list[SubmissionKey] = []

    async def get(self, scope: str, key: str) -> SubmissionKey | None:
        return self._db.submission_keys.get((scope, key))

    async def add(self, record: SubmissionKey) -> None:
        if (record.scope, record.key) in self._db.submission_keys:
            raise SubmissionKeyTakenError(record.key)
        self.added.append(record)


class MemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def __aenter__(self) -> Self:
        self.tasks = _Tasks(self._db)
        self.batches = _Batches(self._db)
        self.revisions = _Revisions(self._db)
        self.submission_keys = _SubmissionKeys(self._db)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        if self._db.fail_commit:
            raise ConnectionError("database down")
        if self._db.conflicts:
            self._db.conflicts -= 1
            raise ConcurrentUpdateError("someone else was first")
        for task in self.tasks.seen:
            self._db.revisions.setdefault(task.id, []).extend(task.new_revisions)
            task.new_revisions.clear()
            for event in task.events:
                self._db.outbox.extend(messages_for(event))
            task.events.clear()
            if task.id in self.tasks.deleted:
                self._db.tasks.pop(task.id, None)
            else:
                self._db.tasks[task.id] = task
        for batch in self.batches.added:
            self._db.batches[batch.id] = batch
        for batch_id in self.batches.deleted:
            self._db.batches.pop(batch_id, None)
        for record in self.submission_keys.added:
            self._db.submission_keys[(record.scope, record.key)] = record

    async def rollback(self) -> None:
        return None


class MemoryBatchReader:
    """The batch list over what was committed; the cursor is the position after the last batch shown."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def newest(self, cursor: str | None, limit: int) -> BatchPage:
        ordered = sorted(self._db.batches.values(), key=lambda b: (b.created_at, b.id), reverse=True)
        start = int(cursor) if cursor is not None else 0
        listings = []
        for batch in ordered[start : start + limit]:
            counts = dict.fromkeys(TaskStatus, 0)
            for task in self._db.tasks.values():
                if task.batch_id == batch.id:
                    counts[task.status] += 1
            listings.append(BatchListing(batch, counts))
        more = start + limit < len(ordered)
        return BatchPage(tuple(listings), str(start + limit) if more else None)


class MagicBytesSplitter:
    """``DOC:<n>`` is an n-page document of 10×10 pages; ``DOC:big`` has a huge page 2; ``DOC:bad`` is corrupt.

    Anything else is one page of its own, as a plain image upload is.
    """

    async def split(self, data: bytes, filename: str) -> list[PageImage]:
        if not data.startswith(b"DOC:"):
            return [PageImage(filename, data, "application/octet-stream", 1, 1, filename)]
        spec = data[4:].decode()
        if spec == "big":
            raise PageTooLargeError(filename, 2, 10_000, 10_000, 100)
        if spec == "bad":
            raise UnreadableDocumentError(filename, "not a readable PDF")
        count = int(spec)
        if count > 20:
            raise TooManyPagesError(filename, count, 20)
        stem = filename.rsplit(".", 1)[0]
        return [
            PageImage(f"{stem}-p{n:03d}.png", b"PNG:10x10", "image/png", n, count, filename)
            for n in range(1, count + 1)
        ]


class ScriptedRecognizer:
    """Reports progress in batches, checks cancellation between them, then answers or raises."""

    transcript: ClassVar[Transcript] = Transcript(1, 1, ())

    def __init__(self, batches: int = 3, error: Exception | None = None, on_batch: object = None) -> None:
        self.batches = batches
        self.error = error
        self.on_batch = on_batch
        self.calls = 0

    async def __call__(
        self, data: bytes, *, progress: ProgressReporter | None = None, cancelled: CancellationSignal | None = None
    ) -> Transcript:
        self.calls += 1
        for i in range(self.batches):
            if cancelled is not None and await cancelled():
                raise RecognitionCancelledError("stop")
            if callable(self.on_batch):
                await self.on_batch(i)
            if progress is not None:
                await progress(Progress("reading", i + 1, self.batches))
        if self.error is not None:
            raise self.error
        return self.transcript


class MemoryProgressFeed:
    def __init__(self) -> None:
        self.ticks: list[tuple[UUID, int, Progress]] = []

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None:
        self.ticks.append((task_id, attempt, progress))


class MemoryProgressStore:
    def __init__(self) -> None:
        self.saved: list[tuple[UUID, int, Progress]] = []

    async def save(self, task_id: UUID, attempt: int, progress: Progress) -> None:
        self.saved.append((task_id, attempt, progress))


class DbProbe:
    """The cancellation probe, reading the committed tasks: cancelling, gone or retried means stop."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    async def is_cancelled(self, task_id: UUID, attempt: int) -> bool:
        task = self.db.tasks.get(task_id)
        return task is None or task.status is TaskStatus.CANCELLING or task.attempt != attempt


class MemoryLeases:
    """The lease heartbeat against the committed tasks, outside versioning like the real one."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.renewals = 0
        self.renewed = asyncio.Event()

    async def renew(self, task_id: UUID, attempt: int, until: datetime) -> bool:
        task = self.db.tasks.get(task_id)
        if task is None or task.attempt != attempt or task.status not in {TaskStatus.RUNNING, TaskStatus.CANCELLING}:
            return False
        task.lease_until = until
        self.renewals += 1
        self.renewed.set()
        return True


class MemoryJobMetrics:
    """JobMetrics that keeps what it was told, in order."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.stages: list[tuple[str, float]] = []
        self.waits: list[float] = []

    def job_finished(self, outcome: str) -> None:
        self.outcomes.append(outcome)

    def stage_took(self, stage: str, seconds: float) -> None:
        self.stages.append((stage, seconds))

    def waited_in_queue(self, seconds: float) -> None:
        self.waits.append(seconds)
