"""Transactions: state changes and the messages they cause commit together or not at all."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.revisions import TranscriptRevision
from kartoteka.domain.recognition.task import RecognitionTask, TaskStatus


class TaskNotFoundError(Refusal):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, task_id: UUID) -> None:
        super().__init__(f"task {task_id} does not exist", {"task_id": str(task_id)})
        self.task_id = task_id


class BatchNotFoundError(Refusal):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, batch_id: UUID) -> None:
        super().__init__(f"batch {batch_id} does not exist", {"batch_id": str(batch_id)})
        self.batch_id = batch_id


class RevisionNotFoundError(Refusal):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, task_id: UUID, number: int, latest: int | None) -> None:
        have = "no transcript yet" if latest is None else f"revisions 0 to {latest}"
        super().__init__(
            f"task {task_id} has no revision {number}; it has {have}",
            {"task_id": str(task_id), "revision": number, "latest_revision": latest},
        )
        self.task_id = task_id
        self.number = number
        self.latest = latest


class ConcurrentUpdateError(Refusal):
    """Someone else changed the task since it was read; re-read and try again."""

    kind = ErrorKind.CONFLICT


@dataclass(frozen=True, slots=True)
class Batch:
    id: UUID
    label: str | None
    created_at: datetime


class TaskRepository(Protocol):
    async def add(self, task: RecognitionTask) -> None: ...

    async def get(self, task_id: UUID, *, lock: bool = False) -> RecognitionTask:
        """Raises TaskNotFoundError. ``lock`` holds the task until the unit of work ends, so a change
        made from what was read cannot lose a race against another writer (a worker, a cancel)."""
        ...

    async def delete(self, task: RecognitionTask) -> None: ...

    async def in_batch(self, batch_id: UUID, *, lock: bool = False) -> list[RecognitionTask]:
        """Every task of the batch, in the order they were submitted (pages in page order); ``lock`` as
        for ``get``."""
        ...

    async def needing_sweep(self, now: datetime, queued_before: datetime, limit: int) -> list[RecognitionTask]:
        """Up to ``limit`` tasks nobody is settling — a retry that is due, a running or cancelling task
        whose lease lapsed, a queued task untouched since ``queued_before`` whose job is not waiting to
        be sent — each held for this unit of work and skipped by any other sweeper meanwhile."""
        ...

    async def counts_by_status(self, batch_id: UUID | None = None) -> dict[TaskStatus, int]: ...

    @property
    def seen(self) -> Sequence[RecognitionTask]:
        """Tasks loaded or added in this unit of work, whose events are published on commit."""
        ...


class BatchRepository(Protocol):
    async def add(self, batch: Batch) -> None: ...

    async def get(self, batch_id: UUID) -> Batch | None: ...

    async def delete(self, batch_id: UUID) -> None: ...


class RevisionRepository(Protocol):
    """Past and present transcripts of tasks; new revisions are saved with their task."""

    async def get(self, task_id: UUID, number: int) -> TranscriptRevision:
        """Raises RevisionNotFoundError."""
        ...

    async def history(self, task_id: UUID) -> list[TranscriptRevision]:
        """Oldest first; empty for a task that was never read."""
        ...

    async def latest_of(self, task_ids: Collection[UUID]) -> dict[UUID, TranscriptRevision]:
        """The newest revision of each task that has one, in one round trip."""
        ...


@dataclass(frozen=True, slots=True)
class SubmissionKey:
    """A submission made with an ``Idempotency-Key``: what it made, so a retry gets the same answer.

    ``scope`` is who submitted (keys of different callers never meet); ``fingerprint`` identifies the
    request's content, so the same key on a different request is told apart from a retry.
    """

    scope: str
    key: str
    fingerprint: str
    batch_id: UUID | None
    task_ids: tuple[UUID, ...]
    created_at: datetime


class SubmissionKeyTakenError(Exception):
    """Another request with the same key committed first (raised by ``SubmissionKeyRepository.add``)."""


class SubmissionKeyRepository(Protocol):
    async def get(self, scope: str, key: str) -> SubmissionKey | None: ...

    async def add(self, record: SubmissionKey) -> None:
        """Raises SubmissionKeyTakenError when the key is already recorded (the transaction is then lost)."""
        ...


class UnitOfWork(Protocol):
    @property
    def tasks(self) -> TaskRepository: ...

    @property
    def submission_keys(self) -> SubmissionKeyRepository: ...

    @property
    def batches(self) -> BatchRepository: ...

    @property
    def revisions(self) -> RevisionRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None:
        """Persist changes and the outbox messages of every event raised, atomically."""
        ...

    async def rollback(self) -> None: ...
