"""What happened to a task, as facts the outbox carries to workers and watchers.

Events are collected on the aggregate and written to the outbox in the same
transaction as the state change, so nothing is announced that did not
commit, and nothing that committed goes unannounced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    task_id: UUID
    attempt: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQueued(DomainEvent):
    """A new task or a retry: a job must be sent to the recognition queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRetryScheduled(DomainEvent):
    """A run met a transient failure: the task waits in the queue until ``retry_at``, when the sweeper
    sends its job again. No job is sent now."""

    reason: str
    retry_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(DomainEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(DomainEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(DomainEvent):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCancelRequested(DomainEvent):
    """A running task was asked to stop: its worker must be signalled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCancelled(DomainEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDeleted(DomainEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskTranscriptRevised(DomainEvent):
    """A person corrected the transcript: watchers must show the new revision."""

    revision: int
    author: str
