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
    TaskRetryScheduled,
    TaskStarted,
    TaskTranscriptRevised,
)
from kartoteka.domain.recognition.retries import RetryPolicy
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


DEFAULT_POLICY = RetryPolicy()

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


class LeaseHeldError(IllegalTransitionError):
    """A live worker holds the task's lease: nobody else may run or re-queue it until it lapses."""

    def __init__(self, task_id: UUID, current: TaskStatus, action: str, lease_until: datetime) -> None:
        super().__init__(task_id, current, action)
        self.args = (
            f"task {task_id} is {current.value} and a worker holds it (lease until {lease_until.isoformat()}): "
            f"cannot {action}; cancel it first, or wait until the lease expires",
        )
        self._detail = {"status": current.value, "action": action, "lease_until": lease_until.isoformat()}


class NotDueError(IllegalTransitionError):
    """The task waits for a retry after a transient failure; a job that arrives before then is dropped."""


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
    runs: int = 0  # runs of this attempt's job so far (a retry after a transient failure is another run)
    retry_at: datetime | None = None  # while queued after a transient failure: when the job is sent again
    lease_until: datetime | None = None  # while running: the worker's lease, renewed by its heartbeat
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

    def lease_is_live(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def start(self, attempt: int, now: datetime, policy: RetryPolicy = DEFAULT_POLICY) -> bool:
        """A worker claims the job for ``attempt``: one more run, holding a fresh lease.

        A task another worker holds (its lease is live) is refused, so a duplicated message never runs
        a card twice at once; a running task whose lease lapsed (its worker died) is taken over. A
        task waiting for its retry time refuses early jobs. When a take-over would exceed the runs
        allowed (the card keeps killing its workers), the task fails instead and this returns False.
        """
        self._check_attempt(attempt)
        if self.status is TaskStatus.RUNNING:
            if self.lease_until is not None and self.lease_is_live(now):
                raise LeaseHeldError(self.id, self.status, "start", self.lease_until)
            if not policy.may_run_again(self.runs):
                self.fail(attempt, f"gave up after {self.runs} runs: the worker running it was lost", now)
                return False
        elif self.status is TaskStatus.QUEUED:
            if self.retry_at is not None and self.retry_at > now:
                raise NotDueError(self.id, self.status, f"start before its retry at {self.retry_at.isoformat()}")
        else:
            raise IllegalTransitionError(self.id, self.status, "start")
        self.runs += 1
        self.lease_until = policy.lease_until(now)
        self.retry_at = None
        if self.status is TaskStatus.RUNNING:
            return True  # the same attempt resumes after its worker was lost
        self.status = TaskStatus.RUNNING
        self.started_at = now
        self.progress = Progress()
        self._touch(now)
        self.events.append(TaskStarted(task_id=self.id, attempt=attempt, occurred_at=now))
        return True

    def defer(self, attempt: int, reason: str, now: datetime, policy: RetryPolicy) -> None:
        """The run met a transient failure: queue it again after a backoff, or fail once runs are spent.

        A task asked to cancel meanwhile is cancelled instead: cancellation never retries.
        """
        self._check_attempt(attempt)
        if self.status is TaskStatus.CANCELLING:
            self.confirm_cancelled(attempt, now)
            return
        if self.status not in {TaskStatus.RUNNING, TaskStatus.QUEUED}:
            raise IllegalTransitionError(self.id, self.status, "retry after a failure")
        if not policy.may_run_again(self.runs):
            self.fail(attempt, f"gave up after {self.runs} runs: {reason}", now)
            return
        self.status = TaskStatus.QUEUED
        self.retry_at = now + policy.delay(self.runs)
        self.lease_until = None
        self.error = f"run {self.runs} of {policy.max_runs} failed, retrying: {reason}"
        self.progress = Progress()
        self._touch(now)
        self.events.append(
            TaskRetryScheduled(
                task_id=self.id, attempt=attempt, occurred_at=now, reason=self.error, retry_at=self.retry_at
            )
        )

    def release_retry(self, now: datetime) -> bool:
        """The sweeper: a retry whose time has come is sent to the queue again. False if not due."""
        if self.status is not TaskStatus.QUEUED or self.retry_at is None or self.retry_at > now:
            return False
        self.retry_at = None
        self._touch(now)
        self.events.append(TaskQueued(task_id=self.id, attempt=self.attempt, occurred_at=now))
        return True

    def recover(self, now: datetime, policy: RetryPolicy) -> bool:
        """The sweeper: work nobody is doing is put back or settled. False if there is nothing to do.

        Running with a lapsed lease: the worker is gone; the run counts as failed and the job is
        sent again (or the task fails once runs are spent). Cancelling with no live lease: nobody is
        left to confirm, so it is cancelled. Queued with no retry pending: its message may be lost, so
        the job is sent again (a duplicate is harmless: the first claim wins, the rest are dropped).
        """
        if self.lease_is_live(now):
            return False
        if self.status is TaskStatus.RUNNING:
            if not policy.may_run_again(self.runs):
                self.fail(self.attempt, f"gave up after {self.runs} runs: the worker running it was lost", now)
                return True
            self.status = TaskStatus.QUEUED
            self.lease_until = None
            self.error = f"run {self.runs} of {policy.max_runs} was lost with its worker (lease expired); queued again"
            self.progress = Progress()
            self._touch(now)
            self.events.append(TaskQueued(task_id=self.id, attempt=self.attempt, occurred_at=now))
            return True
        if self.status is TaskStatus.CANCELLING:
            self.confirm_cancelled(self.attempt, now)
            return True
        if self.status is TaskStatus.QUEUED and self.retry_at is None:
            self._touch(now)
            self.events.append(TaskQueued(task_id=self.id, attempt=self.attempt, occurred_at=now))
            return True
        return False

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
        """Queued tasks are cancelled at once; running ones wind down through ``cancelling``.

        A running or cancelling task whose lease has lapsed has no worker left to stop it: it is
        cancelled at once too.
        """
        if self.status is TaskStatus.QUEUED or (
            self.status in {TaskStatus.RUNNING, TaskStatus.CANCELLING} and not self.lease_is_live(now)
        ):
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
        """Run again with the current models, as a new attempt.

        From a final status; or, for an operator, from a task that is stuck: queued, running or
        cancelling with no live lease (its worker is gone, or its message was lost). While a worker
        holds the lease the task is refused with LeaseHeldError: it is being worked on. The new
        attempt makes any job still in flight for the old one stale, so the card is read once.
        The transcript and its revisions stay as they are (a corrected card keeps its corrections);
        the new reading is added as the next revision.
        """
        if not self.status.is_final and self.lease_until is not None and self.lease_is_live(now):
            raise LeaseHeldError(self.id, self.status, "retry", self.lease_until)
        self.attempt += 1
        self.runs = 0
        self.retry_at = None
        self.lease_until = None
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
        self.lease_until = None
        self.retry_at = None
        self._touch(now)
