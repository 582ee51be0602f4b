"""Which messages each domain event sends, and their shapes.

Three destinations, all written to the outbox and delivered by the relay:
``recognition.jobs`` (a TaskIQ job for a worker), ``status`` (Redis pub/sub
for live watchers; may be lost, clients re-read the database), and
``integration`` (a durable topic exchange for other services).

Status changes go out as ``task.status``; a correction, which leaves the status
as it is, goes out as ``task.transcript`` with the new revision number, on the
same channels, so a watcher sees an edit the way it sees a completion.
"""

from __future__ import annotations

from typing import Any

from kartoteka.application.gallery.outbox_messages import sync_card
from kartoteka.application.shared.outbox import OutboundMessage
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
from kartoteka.domain.recognition.task import TaskStatus

JOBS = "recognition.jobs"
RECOGNIZE_JOB = "kartoteka.recognize"  # the worker's task name; the relay kicks jobs by it
CANCELLATIONS = "recognition.cancellations"
STATUS = "status"
INTEGRATION = "integration"

# The status a task has after each event; deletion is not a task status, only an announcement.
_STATUS_OF: dict[type[DomainEvent], str] = {
    TaskQueued: TaskStatus.QUEUED.value,
    TaskStarted: TaskStatus.RUNNING.value,
    TaskCancelRequested: TaskStatus.CANCELLING.value,
    TaskCompleted: TaskStatus.COMPLETED.value,
    TaskFailed: TaskStatus.FAILED.value,
    TaskCancelled: TaskStatus.CANCELLED.value,
    TaskDeleted: "deleted",
}


TRANSCRIPT_EVENT = "task.transcript"


def messages_for(event: DomainEvent) -> list[OutboundMessage]:
    if isinstance(event, TaskTranscriptRevised):
        return _revision_messages(event)
    task = str(event.task_id)
    status = _STATUS_OF[type(event)]
    body: dict[str, Any] = {
        "type": "task.status",
        "task_id": task,
        "attempt": event.attempt,
        "status": status,
        "at": event.occurred_at.isoformat(),
    }
    if isinstance(event, TaskFailed):
        body["error"] = event.reason
    out = [
        OutboundMessage(STATUS, task, body),
        OutboundMessage(INTEGRATION, f"recognition.task.{status}", body),
    ]
    if isinstance(event, TaskQueued):
        out.insert(0, OutboundMessage(JOBS, task, {"task_id": task, "attempt": event.attempt}))
    if isinstance(event, TaskCancelRequested | TaskDeleted):
        out.insert(0, OutboundMessage(CANCELLATIONS, task, {"task_id": task, "attempt": event.attempt}))
    if isinstance(event, TaskCompleted | TaskDeleted):
        out.append(sync_card(task))  # the scan joins (or leaves) the gallery
    return out


def _revision_messages(event: TaskTranscriptRevised) -> list[OutboundMessage]:
    task = str(event.task_id)
    body: dict[str, Any] = {
        "type": TRANSCRIPT_EVENT,
        "task_id": task,
        "attempt": event.attempt,
        "status": TaskStatus.COMPLETED.value,
        "revision": event.revision,
        "author": event.author,
        "at": event.occurred_at.isoformat(),
    }
    return [
        OutboundMessage(STATUS, task, body),
        OutboundMessage(INTEGRATION, "recognition.task.transcript_revised", body),
    ]
