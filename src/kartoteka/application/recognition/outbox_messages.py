"""Which messages each domain event sends, and their shapes.

Destinations, all written to the outbox and delivered by the relay:
``recognition.jobs`` (a TaskIQ job for a worker), the live ``status`` channel
(pub/sub for watchers; may be lost, clients re-read the database), the
cancellation wake-up, and ``integration`` (a durable topic exchange for other
services, with the same bodies as the live messages).

Status changes go out as ``task.status``; a correction, which leaves the status
as it is, goes out as ``task.transcript`` with the new revision number, on the
same channels, so a watcher sees an edit the way it sees a completion.
"""

from __future__ import annotations

from kartoteka.application.shared.live_messages import Channel, TaskStatusChanged, TranscriptRevised, encode
from kartoteka.application.shared.outbox import OutboundMessage
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
from kartoteka.domain.recognition.task import TaskStatus

JOBS = "recognition.jobs"
RECOGNIZE_JOB = "kartoteka.recognize"  # the worker's task name; the relay kicks jobs by it
INTEGRATION = "integration"
# A completed card joins the gallery and a deleted one leaves it: a job on the embedding queue, run by
# the gallery's SyncCardImage, which reads the task as it is then (so recognition needs no gallery code).
CARD_JOBS = "gallery.cards"
SYNC_CARD_JOB = "kartoteka.sync_card"

# The status a task has after each event; deletion is not a task status, only an announcement.
_STATUS_OF: dict[type[DomainEvent], str] = {
    TaskQueued: TaskStatus.QUEUED.value,
    TaskRetryScheduled: TaskStatus.QUEUED.value,  # waiting for its retry; the sweeper sends the job then
    TaskStarted: TaskStatus.RUNNING.value,
    TaskCancelRequested: TaskStatus.CANCELLING.value,
    TaskCompleted: TaskStatus.COMPLETED.value,
    TaskFailed: TaskStatus.FAILED.value,
    TaskCancelled: TaskStatus.CANCELLED.value,
    TaskDeleted: "deleted",
}


def messages_for(event: DomainEvent) -> list[OutboundMessage]:
    if isinstance(event, TaskTranscriptRevised):
        return _revision_messages(event)
    task = str(event.task_id)
    status = _STATUS_OF[type(event)]
    changed = TaskStatusChanged(
        task_id=event.task_id,
        attempt=event.attempt,
        status=status,
        at=event.occurred_at,
        error=event.reason if isinstance(event, TaskFailed | TaskRetryScheduled) else None,
    )
    body = encode(changed)
    out = [
        OutboundMessage(Channel.STATUS, task, body),
        OutboundMessage(INTEGRATION, f"recognition.task.{status}", body),
    ]
    if isinstance(event, TaskQueued):
        out.insert(0, OutboundMessage(JOBS, task, {"task_id": task, "attempt": event.attempt}))
    if isinstance(event, TaskCancelRequested | TaskDeleted):
        out.insert(0, OutboundMessage(Channel.CANCELLATIONS, task, {"task_id": task, "attempt": event.attempt}))
    if isinstance(event, TaskCompleted | TaskDeleted):
        out.append(OutboundMessage(CARD_JOBS, task, {"task_id": task}))  # the scan joins (or leaves) the gallery
    return out


def _revision_messages(event: TaskTranscriptRevised) -> list[OutboundMessage]:
    body = encode(
        TranscriptRevised(
            task_id=event.task_id,
            attempt=event.attempt,
            revision=event.revision,
            author=event.author,
            at=event.occurred_at,
        )
    )
    return [
        OutboundMessage(Channel.STATUS, str(event.task_id), body),
        OutboundMessage(INTEGRATION, "recognition.task.transcript_revised", body),
    ]
