"""The recognition task: one card's journey from upload to transcript.

The state machine is the contract every process relies on: the api moves a
task to ``queued`` or asks to cancel it, a worker moves it through
``running`` to an outcome. Transitions that would rewrite history — a
cancelled task completing, a finished task starting again without a retry —
are refused here, so a late or duplicated message can never corrupt a task.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.recognition.corrections import Edit, apply_edits
from kartoteka.domain.recognition.events import (
    DomainEvent,
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskDeleted,
    TaskFailed,
    TaskQueued,
    TaskStarted,
    TaskTranscriptRevised,
)
from kartoteka.domain.recognition.revisions import RevisionKind, StaleRevisionError, TranscriptRevision
from kartoteka.domain.recognition.transcript import Transcript


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class IllegalTransitionError(Refusal):
    """The task cannot go from its current status to the one asked for."""

    kind = ErrorKind.CONFLICT

    def __init__(self, task_id: UUID, current: TaskStatus, action: str) -> None:
        super().__init__(
            f"task {task_id} is {current.value}: cannot {action}", {"status": current.value, "action": action}
        )
        self.task_id = task_id
        self.current = current
        self.action = action


class StaleAttemptError(Exception):
    """A job for an older attempt of the task arrived after a retry; it must be dropped."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a running job is: ``stage`` plus ``done`` of ``total`` units (words, for reading)."""

    stage: str = ""
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class SourcePage:
    """Which page of an uploaded document (a PDF, a multi-page TIFF) a card was cut from."""

    filename: str
    number: int
    count: int


@dataclass(frozen=True, slots=True)
class CardImage:
    """Where the scan lives and what it is, as validated at upload."""

    key: str
    filename: str
    content_type: str
    size: int
    width: int
    height: int
    source: SourcePage | None = None


@dataclass(eq=False)
class RecognitionTask:
    id: UUID
    image: CardImage
    created_at: datetime
    batch_id: UUID | None = None
    status: TaskStatus = TaskStatus.QUEUED
    attempt: int = 1
    progress: Progress = field(default_factory=Progress)
    transcript: Transcript | None = None
    revision: int | None = None
    batch_position: int | None = None
    error: str | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    submitted_by: str | None = None  # who uploaded the card (None for cards older than that record)
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    new_revisions: list[TranscriptRevision] = field(default_factory=list, repr=False)

    @classmethod
    def submit(
        cls,
        task_id: UUID,
        image: CardImage,
        now: datetime,
        batch_id: UUID | None = None,
        batch_position: int | None = None,
        submitted_by: str | None = None,
    ) -> RecognitionTask:
        task = cls(
            id=task_id,
            image=image,
            created_at=now,
            batch_id=batch_id,
            batch_position=batch_position,
            updated_at=now,
            submitted_by=submitted_by,
        )
        task.events.append(TaskQueued(task_id=task_id, attempt=1, occurred_at=now))
        return task

    def start(self, attempt: int, now: datetime) -> None:
        """A worker picked up the job for ``attempt``; a redelivered job may start it again."""
        self._check_attempt(attempt)
        if self.status is TaskStatus.RUNNING:
            return  # redelivery after a worker died: the same attempt resumes
        if self.status is not TaskStatus.QUEUED:
            raise IllegalTransitionError(self.id, self.status, "start")
        self.status = TaskStatus.RUNNING
        self.started_at = now
        self.progress = Progress()
        self._touch(now)
        self.events.append(TaskStarted(task_id=self.id, attempt=attempt, occurred_at=now))

    def complete(self, attempt: int, transcript: Transcript, now: datetime) -> None:
        self._check_attempt(attempt)
        if self.status is not TaskStatus.RUNNING:
            raise IllegalTransitionError(self.id, self.status, "complete")
        self.status = TaskStatus.COMPLETED
        self._revise(transcript, RevisionKind.MACHINE, now, author=None, operations=())
        self.error = None
        self.progress = Progress("done", len(transcript.words), len(transcript.words))
        self._finish(now)
        self.events.append(TaskCompleted(task_id=self.id, attempt=attempt, occurred_at=now))

    def correct(
        self,
        edits: Sequence[Edit],
        author: str,
        now: datetime,
        *,
        expected_revision: int | None,
    ) -> TranscriptRevision:
        """A person's edits become the next revision; the ones before it stay as they were.

        Only a completed task is corrected: while a re-run is queued or running
        its result is about to become the newest revision, and a failed or
        cancelled card has no reading of this attempt to correct. With
        ``expected_revision`` the editor says which revision they edited; if
        someone else has added one since, nothing changes. Edits that do not fit
        the transcript (a missing word, an empty text) raise CorrectionError.
        """
        if self.status is not TaskStatus.COMPLETED or self.transcript is None or self.revision is None:
            raise IllegalTransitionError(self.id, self.status, "correct the transcript")
        if expected_revision is not None and expected_revision != self.revision:
            raise StaleRevisionError(self.id, expected_revision, self.revision)
        transcript = apply_edits(self.transcript, edits)
        operations = tuple(edit.describe() for edit in edits)
        revision = self._revise(transcript, RevisionKind.CORRECTION, now, author=author, operations=operations)
        self._touch(now)
        self.events.append(
            TaskTranscriptRevised(
                task_id=self.id, attempt=self.attempt, occurred_at=now, revision=revision.number, author=author
            )
        )
        return revision

    def _revise(
        self,
        transcript: Transcript,
        kind: RevisionKind,
        now: datetime,
        *,
        author: str | None,
        operations: tuple[dict[str, Any], ...],
    ) -> TranscriptRevision:
        """The models' first reading is revision 0; every later reading or correction takes the next number."""
        number = 0 if self.revision is None else self.revision + 1
        revision = TranscriptRevision(
            number=number,
            kind=kind,
            transcript=transcript,
            created_at=now,
            attempt=self.attempt,
            author=author,
            operations=operations,
        )
        self.transcript = transcript
        self.revision = number
        self.new_revisions.append(revision)
        return revision

    def fail(self, attempt: int, reason: str, now: datetime) -> None:
        self._check_attempt(attempt)
        if self.status not in {TaskStatus.RUNNING, TaskStatus.QUEUED}:
            raise IllegalTransitionError(self.id, self.status, "fail")
        self.status = TaskStatus.FAILED
        self.error = reason
        self._finish(now)
        self.events.append(TaskFailed(task_id=self.id, attempt=attempt, reason=reason, occurred_at=now))

    def request_cancel(self, now: datetime) -> None:
        """Queued tasks are cancelled at once; running ones wind down through ``cancelling``."""
        if self.status is TaskStatus.QUEUED:
            self.status = TaskStatus.CANCELLED
            self._finish(now)
            self.events.append(TaskCancelled(task_id=self.id, attempt=self.attempt, occurred_at=now))
        elif self.status is TaskStatus.RUNNING:
            self.status = TaskStatus.CANCELLING
            self._touch(now)
            self.events.append(TaskCancelRequested(task_id=self.id, attempt=self.attempt, occurred_at=now))
        elif self.status is not TaskStatus.CANCELLING:
            raise IllegalTransitionError(self.id, self.status, "cancel")

    def confirm_cancelled(self, attempt: int, now: datetime) -> None:
        """The worker stopped between batches; also accepted from running (cancel seen via signal)."""
        self._check_attempt(attempt)
        if self.status not in {TaskStatus.CANCELLING, TaskStatus.RUNNING}:
            raise IllegalTransitionError(self.id, self.status, "confirm cancellation")
        self.status = TaskStatus.CANCELLED
        self._finish(now)
        self.events.append(TaskCancelled(task_id=self.id, attempt=attempt, occurred_at=now))

    def retry(self, now: datetime) -> None:
        """Run again with the current models, as a new attempt; only from a final status.

        The transcript and its revisions stay as they are (a corrected card keeps
        its corrections); the new reading is added as the next revision.
        """
        if not self.status.is_final:
            raise IllegalTransitionError(self.id, self.status, "retry")
        self.attempt += 1
        self.status = TaskStatus.QUEUED
        self.progress = Progress()
        self.error = None
        self.started_at = None
        self.finished_at = None
        self._touch(now)
        self.events.append(TaskQueued(task_id=self.id, attempt=self.attempt, occurred_at=now))

    def mark_deleted(self, now: datetime) -> None:
        """Deleting is allowed in any status; a running job is told to stop."""
        self._touch(now)
        self.events.append(TaskDeleted(task_id=self.id, attempt=self.attempt, occurred_at=now))

    def _check_attempt(self, attempt: int) -> None:
        if attempt != self.attempt:
            raise StaleAttemptError(f"task {self.id} is at attempt {self.attempt}, not {attempt}")

    def _touch(self, now: datetime) -> None:
        self.updated_at = now

    def _finish(self, now: datetime) -> None:
        self.finished_at = now
        self._touch(now)
